"""A real OpenSSH sshd on 127.0.0.1 for the tunnel tests, a stand-in vehicle sshd and process helpers."""

import contextlib
import getpass
import http.server
import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

SSHD = "/usr/sbin/sshd"


_NEXT_PORT = itertools.count()


def free_port():
    """Return a TCP port on 127.0.0.1 that nothing listens on right now, for a server a test starts later.

    Below the kernel's ephemeral range (32768-60999 on Debian), in a block of 1000 of its own per pytest-xdist
    worker, never the same twice in a run: a port-0 bind or an outgoing connection of a test running alongside
    cannot take it between this check and the bind (seen in CI: the bastion's forward port taken, the tunnel
    never verified).
    """
    worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
    for _ in range(1000):
        port = 20000 + 1000 * (worker % 12) + next(_NEXT_PORT) % 1000
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue  # in use (or TIME_WAIT): the next one
            return port
    raise RuntimeError("no free loopback port in this worker's block")


def wait_for(condition, timeout_seconds, message, interval_seconds=0.1):
    """Call condition() until it returns something truthy; return it, or fail the test after the deadline."""
    deadline = time.monotonic() + timeout_seconds
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_seconds} s waiting for: {message}")
        time.sleep(interval_seconds)


def _children(pid):
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(entry.name))
    return found


def descendants(pid):
    """Return the pids of every descendant of process `pid`, parents before children."""
    found, queue = [], [pid]
    while queue:
        children = _children(queue.pop(0))
        found += children
        queue += children
    return found


def kill_tree(pid, sig=signal.SIGKILL):
    """Send `sig` to process `pid` and all its descendants (sshd's per-connection children too)."""
    for current in [pid, *descendants(pid)]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(current, sig)


def ssh_keygen(path, comment="test"):
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)], check=True)
    return Path(str(path) + ".pub").read_text().strip()


class Sshd:
    """An sshd -D -e on 127.0.0.1:port with its own host key, authorized_keys and log file."""

    def __init__(self, directory, extra_options=()):
        self.directory = Path(directory)
        self.port = free_port()
        self.host_key = self.directory / "ssh_host_ed25519_key"
        self.host_public_key = ssh_keygen(self.host_key, "test-host")
        self.authorized_keys = self.directory / "authorized_keys"
        self.authorized_keys.write_text("")
        self.log_path = self.directory / "sshd.log"
        self.config_path = self.directory / "sshd_config"
        self.extra_options = list(extra_options)
        self.process = None

    def write_config(self):
        lines = [
            f"Port {self.port}",
            "ListenAddress 127.0.0.1",
            f"HostKey {self.host_key}",
            f"PidFile {self.directory / 'sshd.pid'}",
            f"AuthorizedKeysFile {self.authorized_keys}",
            "StrictModes no",
            "UsePAM no",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "PubkeyAuthentication yes",
            "PermitRootLogin prohibit-password",
            "GatewayPorts no",
            "LogLevel VERBOSE",
            *self.extra_options,
        ]
        if not any(option.startswith("AllowTcpForwarding") for option in self.extra_options):
            lines.append("AllowTcpForwarding yes")
        self.config_path.write_text("\n".join(lines) + "\n")

    def start(self):
        """Start sshd and wait until it accepts TCP connections."""
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # privilege separation directory
        self.write_config()
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child, closed in stop()
        self.process = subprocess.Popen([SSHD, "-D", "-e", "-f", str(self.config_path)], stdout=log, stderr=log)
        log.close()

        def accepting():
            if self.process.poll() is not None:
                pytest.fail(f"sshd exited with {self.process.returncode}: {self.log_text()}")
            with socket.socket() as sock:
                return sock.connect_ex(("127.0.0.1", self.port)) == 0

        wait_for(accepting, 10, f"sshd listening on 127.0.0.1:{self.port}")
        return self

    def kill(self):
        """Kill sshd and every session it runs, as a crashed or rebooted bastion would."""
        if self.process is not None:
            kill_tree(self.process.pid)
            self.process.wait(timeout=10)
            self.process = None

    def signal_sessions(self, sig):
        """Send `sig` to every per-connection sshd process (not the listener); return how many got it."""
        pids = descendants(self.process.pid)
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        return len(pids)

    def log_text(self):
        return self.log_path.read_text(errors="replace")

    def known_hosts_line(self):
        return f"[127.0.0.1]:{self.port} {' '.join(self.host_public_key.split()[:2])}\n"


class VehicleSshd:
    """A TCP server standing in for the vehicle's sshd: sends an SSH banner, then echoes until EOF.

    After the client's EOF (half-close) it sends "bye <n>" (n = bytes received) and closes, so a test
    can check that half-close travels through the tunnel in both directions.
    """

    BANNER = b"SSH-2.0-test\r\n"

    def __init__(self):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn):
        with conn:
            try:
                conn.sendall(self.BANNER)
                total = 0
                while data := conn.recv(4096):
                    total += len(data)
                    conn.sendall(data)
                conn.sendall(f"bye {total}".encode())
            except OSError:
                pass

    def close(self):
        self.listener.close()


class WebStandIn:
    """A real HTTP server on 127.0.0.1 standing in for meso360-web: GET /healthz answers 200 "ok <n>"
    (n = requests so far), anything else 404; `healthz_status` changes the answer."""

    def __init__(self):
        stand_in = self
        self.healthz_status = 200
        self.requests = 0

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                stand_in.requests += 1
                status = stand_in.healthz_status if self.path == "/healthz" else 404
                body = f"ok {stand_in.requests}".encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class NotifySocket:
    """A real unix datagram socket standing in for systemd's NOTIFY_SOCKET; a thread collects every message.

    It is drained continuously, as systemd does: the kernel queues only a few datagrams, then sendto blocks.
    """

    def __init__(self, directory):
        self.path = os.path.join(directory, "notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.messages = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._collect, daemon=True)
        self._thread.start()

    def _collect(self):
        while True:
            try:
                data = self.sock.recv(65536)
            except OSError:
                return
            with self._lock:
                self.messages.append(data.decode().split("\n"))

    def lines(self):
        """Return every KEY=VALUE line received so far, in order."""
        with self._lock:
            return [line for message in self.messages for line in message]

    def close(self):
        self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()


class TunnelDaemon:
    """meso360-tunnel run as a real process (python -m meso360.tunnel.daemon) with a captured NOTIFY_SOCKET."""

    def __init__(self, config_path, directory, notify):
        self.config_path = config_path
        self.log_path = Path(directory) / "tunnel.log"
        self.notify = notify
        self.process = None

    def start(self):
        # PYTHONFAULTHANDLER: a daemon that hangs on SIGTERM gets SIGABRT and dumps every thread's stack.
        env = dict(os.environ, NOTIFY_SOCKET=self.notify.path, PYTHONUNBUFFERED="1", PYTHONFAULTHANDLER="1")
        env.pop("JOURNAL_STREAM", None)
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "meso360.tunnel.daemon", "--config", str(self.config_path)],
                stdout=log,
                stderr=log,
                env=env,
            )
        return self

    def log_text(self):
        return self.log_path.read_text(errors="replace")

    def stop(self):
        """SIGTERM, as systemd would; return the exit code (SIGKILL after 15 s so a test never hangs)."""
        if self.process is None:
            return None
        self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.send_signal(signal.SIGABRT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=5)
            kill_tree(self.process.pid)
            code = self.process.wait(timeout=10)
        self.process = None
        return code


class TunnelSetup:
    """Everything a tunnel test needs: bastion sshd, vehicle stand-in, config file, state dir, notify socket."""

    def __init__(self, directory, notify_directory, sshd, vehicle):
        self.directory = Path(directory)
        self.sshd = sshd
        self.vehicle = vehicle
        self.remote_port = free_port()
        self.key_file = self.directory / "etc" / "tunnel_key"
        self.known_hosts = self.directory / "etc" / "known_hosts"
        self.state_dir = self.directory / "state"
        self.config_path = self.directory / "meso360.conf"
        self.notify = NotifySocket(notify_directory)
        self.daemons = []
        self.web_listen = None  # [web] listen, written when set (the web forward's target)
        self.write_config()

    def write_config(self, **overrides):
        tunnel = {
            "host": "127.0.0.1",
            "port": self.sshd.port,
            "user": getpass.getuser(),
            "key_file": self.key_file,
            "known_hosts": self.known_hosts,
            "remote_port": self.remote_port,
            "local_port": self.vehicle.port,
            "keepalive_interval": 1,
            "keepalive_misses": 3,
            "probe_interval": 5,
            "connect_timeout": 5,
            "retry_max_delay": 2,
            **overrides,
        }
        lines = ["[meso360]", "vehicle = MM1", f"state_dir = {self.state_dir}", "", "[tunnel]"]
        lines += [f"{key} = {value}" for key, value in tunnel.items()]
        if self.web_listen:
            lines += ["", "[web]", f"listen = {self.web_listen}"]
        self.config_path.write_text("\n".join(lines) + "\n")

    def state(self):
        try:
            return json.loads((self.state_dir / "tunnel" / "tunnel.json").read_text())
        except (OSError, ValueError):
            return None

    def wait_state(self, predicate, timeout_seconds, message):
        return wait_for(
            lambda: (state := self.state()) is not None and predicate(state) and state, timeout_seconds, message
        )

    def start_daemon(self):
        daemon = TunnelDaemon(self.config_path, self.directory, self.notify).start()
        self.daemons.append(daemon)
        return daemon

    def close(self):
        for daemon in self.daemons:
            daemon.stop()
        self.notify.close()


@pytest.fixture(name="sshd")
def sshd_fixture(tmp_path):
    """A started bastion sshd; killed (with its sessions) at teardown."""
    directory = tmp_path / "sshd"
    directory.mkdir()
    server = Sshd(directory).start()
    yield server
    server.kill()


@pytest.fixture(name="vehicle")
def vehicle_fixture():
    server = VehicleSshd()
    yield server
    server.close()


@pytest.fixture(name="web")
def web_fixture():
    server = WebStandIn()
    yield server
    server.close()


@pytest.fixture(name="notify_directory")
def notify_directory_fixture():
    # AF_UNIX paths are limited to 108 bytes; pytest's tmp_path can be longer.
    directory = tempfile.mkdtemp(prefix="m360-", dir="/tmp")
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(name="env")
def env_fixture(tmp_path, notify_directory, sshd, vehicle):
    """A TunnelSetup whose daemons are stopped (SIGTERM by pid) at teardown."""
    tunnel_setup = TunnelSetup(tmp_path, notify_directory, sshd, vehicle)
    yield tunnel_setup
    tunnel_setup.close()
