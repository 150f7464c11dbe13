"""Set-up helpers for `meso360ctl tunnel`: create the tunnel key, fetch and pin the bastion's host key."""

import dataclasses
import pwd
import socket
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from meso360.atomic import write_atomically
from meso360.errors import TunnelError
from meso360.tunnel.ssh import fingerprint, known_hosts_name, paramiko


@dataclasses.dataclass(frozen=True)
class GeneratedKey:
    private_path: Path
    public_path: Path
    public_key: str  # "ssh-ed25519 AAAA... meso360@MM1"
    authorized_keys_line: str  # what the bastion admin puts into ~user/.ssh/authorized_keys


@dataclasses.dataclass(frozen=True)
class ServerHostKey:
    host: str
    port: int
    key_type: str  # e.g. "ssh-ed25519"
    fingerprint: str  # "SHA256:..."
    key: object  # paramiko.PKey

    @property
    def known_hosts_line(self):
        return f"{known_hosts_name(self.host, self.port)} {self.key_type} {self.key.get_base64()}"


def authorized_keys_line(public_key, remote_port, remote_web_port=0):
    """Return the bastion authorized_keys line that lets this key only listen on, and probe, its own port(s):
    remote_port, and remote_web_port unless it is 0."""
    targets = [f"localhost:{port}" for port in (remote_port, remote_web_port) if port]
    listen = ",".join(f'permitlisten="{target}"' for target in targets)
    open_ = ",".join(f'permitopen="{target}"' for target in targets)
    return f"restrict,port-forwarding,{listen},{open_} {public_key}"


def generate_key(key_file, vehicle, remote_port, owner=None, overwrite=False, remote_web_port=0):
    """Create an ed25519 key pair at key_file (0600, OpenSSH format) and key_file.pub (0644).

    Made with python3-cryptography (a dependency of paramiko), so no ssh-keygen is needed. `owner` (a user
    name) gets both files, for a daemon running as another user. Return a GeneratedKey. Raise TunnelError if
    the key exists and overwrite is False; OSError or LookupError (unknown owner) as they come.
    """
    key_file = Path(key_file)
    public_file = Path(f"{key_file}.pub")
    if key_file.exists() and not overwrite:
        raise TunnelError(f"{key_file} already exists; keeping it (remove it first to make a new key)")
    private_key = ed25519.Ed25519PrivateKey.generate()
    comment = f"meso360@{vehicle}"
    private_text = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
    )
    public_key = (
        private_key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    ).decode("ascii") + f" {comment}"
    key_file.parent.mkdir(parents=True, exist_ok=True)
    _write_new_file(key_file, private_text, 0o600, owner)
    _write_new_file(public_file, (public_key + "\n").encode("ascii"), 0o644, owner)
    line = authorized_keys_line(public_key, remote_port, remote_web_port)
    return GeneratedKey(key_file, public_file, public_key, line)


def _write_new_file(path, content, mode, owner):
    """Write `content` to path with `mode` (never more open), owned by the user `owner` when given."""
    write_atomically(path, content, mode, None if not owner else (pwd.getpwnam(owner).pw_uid, -1))


def fetch_host_key(host, port=22, timeout_seconds=15.0):
    """Connect to host:port, complete the SSH key exchange without authenticating; return a ServerHostKey.

    Raise TunnelError if the server cannot be reached or does not speak SSH.
    """
    try:
        sock = socket.create_connection((host, port), timeout=timeout_seconds)
    except OSError as error:
        raise TunnelError(f"cannot connect to {host}:{port}: {error.strerror or error}") from error
    transport = paramiko.Transport(sock)
    transport.banner_timeout = timeout_seconds
    try:
        transport.start_client(timeout=timeout_seconds)
        key = transport.get_remote_server_key()
    except (paramiko.SSHException, OSError, EOFError) as error:
        raise TunnelError(f"no SSH key exchange with {host}:{port}: {error}") from error
    finally:
        transport.close()
        sock.close()
    return ServerHostKey(host, port, key.get_name(), fingerprint(key), key)


def add_known_host(known_hosts, host_key):
    """Pin host_key in the known_hosts file: drop older lines for that host and port, append the new one.

    The file is replaced atomically (mode 0644), created with its directory if missing.
    """
    known_hosts = Path(known_hosts)
    name = known_hosts_name(host_key.host, host_key.port)
    try:
        lines = known_hosts.read_text().splitlines()
    except FileNotFoundError:
        lines = []
    kept = [line for line in lines if not line.strip() or name not in line.split()[0].split(",")]
    kept.append(host_key.known_hosts_line)
    known_hosts.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(known_hosts, "\n".join(kept) + "\n", 0o644)
