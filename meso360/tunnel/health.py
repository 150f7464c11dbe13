"""Is the tunnel alive? Keepalives that wait for the server's answer, the end-to-end banner probe of the sshd
forward and the GET /healthz probe of the web forward."""

import dataclasses
import re
import threading
import time

from meso360 import USER_AGENT
from meso360.tunnel.ssh import paramiko

_SSH_OPEN_ADMINISTRATIVELY_PROHIBITED = 1
_HTTP_OK = re.compile(rb"^HTTP/1\.[01] 200 ")


class Keepalive:
    """Send keepalive@openssh.com requests that want a reply, one at a time, from a thread of its own.

    paramiko's own set_keepalive never waits for an answer, so it cannot notice a silent server. Here a
    request goes out `interval` seconds after the previous answer; if no answer comes within `misses`
    intervals, the transport is closed, which also ends any probe or forward request waiting on it.
    """

    def __init__(self, transport, interval_seconds, misses):
        self._transport = transport
        self._interval = interval_seconds
        self._misses = misses
        self._stopped = threading.Event()
        self.dead_reason = None
        self._thread = threading.Thread(target=self._run, name="keepalive", daemon=True)

    def start(self):
        self._thread.start()

    def stop(self):
        self._stopped.set()

    def _give_up(self):
        if self._transport.is_active() and not self._stopped.is_set():
            self.dead_reason = f"no answer to keepalives for {self._interval * (self._misses + 1):g} s"
            self._transport.close()

    def _run(self):
        while not self._stopped.wait(self._interval):
            timer = threading.Timer(self._interval * self._misses, self._give_up)
            timer.daemon = True
            timer.start()
            try:
                # Returns on the server's answer ("failure" from OpenSSH is an answer) or when the transport closes.
                self._transport.global_request("keepalive@openssh.com", wait=True)
            finally:
                timer.cancel()
            if not self._transport.is_active():
                return


@dataclasses.dataclass(frozen=True)
class ProbeResult:
    """Outcome of one probe: ok, or why not; `reconnect` says whether a new session could help."""

    ok: bool
    detail: str
    reconnect: bool = False


def _open_probe_channel(transport, remote_port, timeout_seconds):
    """Open a direct-tcpip channel to localhost:remote_port on the bastion; return (channel, None) or (None, a
    failed ProbeResult whose `reconnect` says whether the bastion's end of the forward is missing)."""
    try:
        channel = transport.open_channel(
            "direct-tcpip", ("localhost", remote_port), ("127.0.0.1", 0), timeout=timeout_seconds
        )
    except paramiko.ChannelException as error:
        if error.code == _SSH_OPEN_ADMINISTRATIVELY_PROHIBITED:
            return None, ProbeResult(
                False,
                f"the bastion does not allow the probe connection to localhost:{remote_port}"
                f' (add permitopen="localhost:{remote_port}" to the port-forwarding authorized_keys line)',
            )
        return None, ProbeResult(False, f"the bastion cannot connect to its localhost:{remote_port}", reconnect=True)
    except (paramiko.SSHException, OSError) as error:
        return None, ProbeResult(False, f"probe channel not opened: {error}", reconnect=True)
    return channel, None


def probe(transport, remote_port, forwarder, timeout_seconds):
    """Open a direct-tcpip channel to localhost:remote_port on the bastion and expect an SSH banner back.

    The connection must come back through our own forward (the forwarder counts it), so the probe proves
    the whole path bastion port → tunnel → vehicle sshd. Return a ProbeResult.
    """
    received_before = forwarder.channels_received
    channel, failure = _open_probe_channel(transport, remote_port, timeout_seconds)
    if failure is not None:
        return failure
    try:
        banner = _read_line(channel, timeout_seconds)
    finally:
        channel.close()
    if banner.startswith(b"SSH-2.0-") and forwarder.channels_received > received_before:
        return ProbeResult(True, "verified")
    if forwarder.channels_received == received_before:
        return ProbeResult(
            False, f"localhost:{remote_port} on the bastion did not forward the probe through this tunnel", True
        )
    if forwarder.last_local_error:
        return ProbeResult(False, f"tunnel works but the vehicle side failed: {forwarder.last_local_error}")
    shown = banner[:40].decode("ascii", "replace").strip() or "nothing"
    return ProbeResult(False, f"no SSH banner from 127.0.0.1:{forwarder.local_port} through the tunnel (got {shown})")


def probe_web(transport, remote_port, forwarder, timeout_seconds):
    """Send GET /healthz to localhost:remote_port on the bastion through a direct-tcpip channel; expect 200 back.

    As with probe(), the request must come back through our own forward (the forwarder counts it), so a 200
    proves bastion web port → tunnel → the vehicle's web daemon. Return a ProbeResult; `reconnect` here means
    the bastion has no listener of ours on that port (the forward should be requested again).
    """
    received_before = forwarder.channels_received
    channel, failure = _open_probe_channel(transport, remote_port, timeout_seconds)
    if failure is not None:
        return failure
    request = (
        f"GET /healthz HTTP/1.1\r\nHost: localhost:{remote_port}\r\nUser-Agent: {USER_AGENT}\r\n"
        "Connection: close\r\n\r\n"
    )
    try:
        try:
            channel.sendall(request.encode("ascii"))
        except (OSError, paramiko.SSHException) as error:
            return ProbeResult(False, f"GET /healthz not sent through localhost:{remote_port}: {error}")
        status_line = _read_line(channel, timeout_seconds)
    finally:
        channel.close()
    if forwarder.channels_received == received_before:
        return ProbeResult(
            False, f"localhost:{remote_port} on the bastion did not forward GET /healthz through this tunnel", True
        )
    if _HTTP_OK.match(status_line):
        return ProbeResult(True, "verified")
    if forwarder.last_local_error:
        return ProbeResult(False, f"the web daemon is not reachable: {forwarder.last_local_error}")
    shown = status_line[:60].decode("ascii", "replace").strip() or "nothing"
    return ProbeResult(False, f"GET /healthz through the tunnel to {forwarder.local_address} answered {shown}")


def _read_line(channel, timeout_seconds):
    """Return the first line the channel sends (at most 256 bytes) within the timeout; b"" if none."""
    deadline = time.monotonic() + timeout_seconds
    data = b""
    while b"\n" not in data and len(data) < 256:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        channel.settimeout(remaining)
        try:
            chunk = channel.recv(256)
        except (TimeoutError, OSError):
            break
        if not chunk:
            break
        data += chunk
    return data
