"""SSH client edge: private key checks, pinned host key, bounded connect; paramiko errors become ours."""

import base64
import contextlib
import hashlib
import socket
import stat
import threading
import warnings

from meso360.errors import ConfigError, TunnelError

with warnings.catch_warnings():
    # paramiko 2.12 touches TripleDES at import; newer cryptography warns about it on every start.
    warnings.filterwarnings("ignore", message=".*TripleDES.*")
    import paramiko

_KEY_CLASSES = (paramiko.Ed25519Key, paramiko.ECDSAKey, paramiko.RSAKey)


class HostKeyRefused(TunnelError):
    """The server's host key is unknown or differs from the pinned one."""


class ForwardRefused(TunnelError):
    """The server refused to listen on the remote port."""


def fingerprint(key):
    """Given a paramiko key, return its OpenSSH SHA256 fingerprint ("SHA256:...")."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def known_hosts_name(host, port):
    """Return the name OpenSSH uses in known_hosts for host:port ("[host]:port" unless port 22)."""
    return host if port == 22 else f"[{host}]:{port}"


@contextlib.contextmanager
def _file_errors_as_config_errors(setting, path, how_to_create):
    """Turn a missing or unreadable file named by `setting` into a ConfigError; say `how_to_create` a missing one."""
    try:
        yield
    except FileNotFoundError:
        raise ConfigError([f"{setting} {path}: no such file ({how_to_create})"]) from None
    except OSError as error:
        raise ConfigError([f"{setting} {path}: cannot read: {error.strerror}"]) from error


def load_private_key(path):
    """Given the key file path, return the paramiko key. Raise ConfigError if missing, too open or unusable."""
    with _file_errors_as_config_errors("tunnel.key_file", path, "create it with: meso360ctl tunnel keygen"):
        info = path.stat()
    if not stat.S_ISREG(info.st_mode):
        raise ConfigError([f"tunnel.key_file {path}: not a regular file"])
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077:
        raise ConfigError(
            [
                f"tunnel.key_file {path}: permissions {mode:04o} are too open: the private key must be readable"
                f" by its owner only (fix: chmod 600 {path})"
            ]
        )
    for key_class in _KEY_CLASSES:
        try:
            return key_class.from_private_key_file(str(path))
        except paramiko.PasswordRequiredException:
            raise ConfigError(
                [f"tunnel.key_file {path}: the key has a passphrase; the tunnel needs a key without one"]
            ) from None
        except PermissionError as error:
            raise ConfigError(
                [f"tunnel.key_file {path}: permission denied (the file must be owned by the user running the tunnel)"]
            ) from error
        except (paramiko.SSHException, ValueError):
            continue  # not this key type: try the next one
    raise ConfigError([f"tunnel.key_file {path}: not a usable ed25519, ECDSA or RSA private key"])


def load_known_hosts(path):
    """Return a paramiko HostKeys from the known_hosts file. Raise ConfigError if missing or unreadable."""
    host_keys = paramiko.HostKeys()
    with _file_errors_as_config_errors(
        "tunnel.known_hosts", path, "record the bastion's key with: meso360ctl tunnel trust"
    ):
        host_keys.load(str(path))
    return host_keys


class _RefuseUnknownHost(paramiko.MissingHostKeyPolicy):
    """Never trust a host key that is not pinned; say which key was offered so a person can check it."""

    def __init__(self, known_hosts_path):
        self._path = known_hosts_path

    def missing_host_key(self, client, hostname, key):
        raise HostKeyRefused(
            f"host key of {hostname} is not in {self._path}: the server offered {key.get_name()} {fingerprint(key)};"
            " refusing to connect (if that is the bastion's key, record it with: meso360ctl tunnel trust)"
        )


def new_client(tunnel, host_keys):
    """Return an unconnected paramiko SSHClient that trusts only `host_keys` (never adds a key)."""
    client = paramiko.SSHClient()
    for name, keys in host_keys.items():
        for key_type, key in keys.items():
            client.get_host_keys().add(name, key_type, key)
    client.set_missing_host_key_policy(_RefuseUnknownHost(tunnel.known_hosts))
    return client


def connect(client, tunnel, pkey):
    """Connect `client` (see new_client) to the bastion of `tunnel` (TunnelConfig) and authenticate with pkey.

    Raise HostKeyRefused or TunnelError (with a short cause) on failure; the client is then closed.
    """
    # connect_timeout bounds each step: the TCP connect, the SSH banner, the authentication.
    timeouts = dict.fromkeys(("timeout", "banner_timeout", "auth_timeout"), tunnel.connect_timeout)
    try:
        # Only `pkey`: no key file found in ~/.ssh, no ssh-agent.
        client.connect(
            tunnel.host,
            port=tunnel.port,
            username=tunnel.user,
            pkey=pkey,
            look_for_keys=False,
            allow_agent=False,
            **timeouts,
        )
    except HostKeyRefused:
        client.close()
        raise
    except paramiko.BadHostKeyException as error:
        client.close()
        raise HostKeyRefused(
            f"HOST KEY CHANGED for {known_hosts_name(tunnel.host, tunnel.port)}: the server offered"
            f" {error.key.get_name()} {fingerprint(error.key)} but {tunnel.known_hosts}"
            f" pins {fingerprint(error.expected_key)};"
            " refusing to connect (possible impersonation; if the bastion's key really changed, record the new"
            " one with: meso360ctl tunnel trust)"
        ) from error
    except paramiko.AuthenticationException as error:
        client.close()
        raise TunnelError(
            f"authentication refused for {tunnel.user}@{tunnel.host}: is the public key of {tunnel.key_file}"
            " in the bastion's authorized_keys?"
        ) from error
    except TimeoutError as error:
        client.close()
        raise TunnelError(f"timed out connecting to {tunnel.host}:{tunnel.port}") from error
    except paramiko.SSHException as error:
        client.close()
        raise TunnelError(f"SSH error with {tunnel.host}:{tunnel.port}: {error}") from error
    except EOFError as error:  # paramiko's transport thread re-raises it when the server hangs up early
        client.close()
        raise TunnelError(f"{tunnel.host}:{tunnel.port} closed the connection during the SSH handshake") from error
    except OSError as error:
        client.close()
        raise TunnelError(f"cannot connect to {tunnel.host}:{tunnel.port}: {_os_error_text(error)}") from error
    return client


def request_forward(transport, remote_port, handler, timeout_seconds, setting="remote_port"):
    """Ask the server to listen on localhost:remote_port and hand each connection to `handler`.

    `setting` names the config key of the port in the refusal's explanation.
    The answer is awaited at most `timeout_seconds` (the transport is closed after that).
    Raise ForwardRefused if the server says no, TunnelError if it does not answer.
    """
    timer = threading.Timer(timeout_seconds, transport.close)
    timer.daemon = True
    timer.start()
    try:
        # "localhost" is what OpenSSH's ssh -R sends, so permitlisten="localhost:PORT" matches it.
        transport.request_port_forward("localhost", remote_port, handler)
    except paramiko.SSHException as error:
        if not transport.is_active():
            raise TunnelError(f"no answer to the forward request within {timeout_seconds:g} s") from error
        raise ForwardRefused(
            f"the bastion refused to listen on localhost:{remote_port}. Most likely an earlier session of this"
            " vehicle still holds the port because the bastion has not noticed that it died; fix on the bastion:"
            " set 'ClientAliveInterval 15' and 'ClientAliveCountMax 3' in its sshd_config so dead sessions are"
            " dropped within a minute. Otherwise check that sshd allows it (AllowTcpForwarding yes or remote,"
            f' PermitListen) and that the authorized_keys line has permitlisten="localhost:{remote_port}";'
            f" or another vehicle uses the same {setting}"
        ) from error
    finally:
        timer.cancel()


def _os_error_text(error):
    if isinstance(error, paramiko.ssh_exception.NoValidConnectionsError):
        causes = {type(e).__name__: e for e in error.errors.values()}
        if "ConnectionRefusedError" in causes:
            return "connection refused"
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, socket.gaierror):
        return f"cannot resolve host name ({error.strerror})"
    return error.strerror or str(error)
