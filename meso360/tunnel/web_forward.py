"""The second remote forward: the bastion's localhost:remote_web_port to the vehicle's web daemon.

The sshd forward is the lifeline: a web forward that the bastion refuses or that fails its GET /healthz probe is
reported and retried every probe_interval, and never takes the session down.
"""

import logging

from meso360.errors import TunnelError
from meso360.tunnel import ssh
from meso360.tunnel.forward import Forwarder
from meso360.tunnel.health import probe_web

log = logging.getLogger(__name__)

_ANY_ADDRESS = ("", "0.0.0.0", "::")  # noqa: S104  compared with [web] listen, never bound


def web_target(listen):
    """Given [web] listen (host, port), return where the tunnel connects: 127.0.0.1 for a wildcard address."""
    host, port = listen
    return ("127.0.0.1" if host in _ANY_ADDRESS else host), port


class WebForward:
    """Request the web forward on a session's transport (again after a refusal) and probe it end to end."""

    def __init__(self, transport, dispatcher, tunnel, listen):
        host, port = web_target(listen)
        self.remote_port = tunnel.remote_web_port
        self.forwarder = Forwarder(port, tunnel.connect_timeout, local_host=host)
        self._transport = transport
        self._dispatcher = dispatcher
        self._timeout = tunnel.connect_timeout
        self._in_place = False
        dispatcher.add(self.remote_port, self.forwarder)

    def check(self, state):
        """Request the forward if it is not in place, then GET /healthz through it; report the outcome to `state`.

        A refused request leaves the session up. Raise nothing: a bastion that does not answer the request has its
        transport closed by ssh.request_forward, which the session's watch loop notices.
        """
        if not self._in_place:
            try:
                # The same handler as the sshd forward's: paramiko keeps one per transport.
                ssh.request_forward(
                    self._transport, self.remote_port, self._dispatcher, self._timeout, "remote_web_port"
                )
            except ssh.ForwardRefused as error:
                state.web_failed("refused", str(error))
                return
            except TunnelError as error:
                state.web_failed("failed", str(error))
                return
            self._in_place = True
        result = probe_web(self._transport, self.remote_port, self.forwarder, self._timeout)
        if result.ok:
            state.web_verified()
            return
        if result.reconnect:
            self._in_place = False  # the bastion has no listener of ours there: ask again next time
        state.web_failed("failed", result.detail)

    def close(self):
        self.forwarder.close()
