"""One SSH session to the bastion: connect, request the forward, watch it until it dies or we stop."""

import logging
import time

from meso360.errors import TunnelError
from meso360.tunnel import ssh
from meso360.tunnel.forward import Forwarder
from meso360.tunnel.health import Keepalive, probe

log = logging.getLogger(__name__)

TICK_SECONDS = 1.0


class Session:
    """A connected transport with the remote forward in place, its forwarder and its keepalive thread."""

    def __init__(self, client, forwarder, keepalive):
        self.client = client
        self.transport = client.get_transport()
        self.forwarder = forwarder
        self.keepalive = keepalive

    @classmethod
    def open(cls, client, tunnel, pkey):
        """Connect `client` (ssh.new_client) and request the forward. Return a Session. Raise TunnelError."""
        ssh.connect(client, tunnel, pkey)
        transport = client.get_transport()
        forwarder = Forwarder(tunnel.local_port, tunnel.connect_timeout)
        try:
            ssh.request_forward(transport, tunnel.remote_port, forwarder, tunnel.connect_timeout)
        except TunnelError:
            client.close()
            raise
        keepalive = Keepalive(transport, tunnel.keepalive_interval, tunnel.keepalive_misses)
        keepalive.start()
        return cls(client, forwarder, keepalive)

    def close(self):
        self.keepalive.stop()
        self.forwarder.close()
        self.client.close()


def watch(session, tunnel, state, stop_event, notifier, on_verified):
    """Probe and watch `session` until it dies (return the reason) or stop_event is set (return None).

    Probes at once, then every probe_interval; the keepalive thread closes the transport after
    keepalive_misses unanswered keepalives. Sends WATCHDOG=1 on every healthy tick of this loop.
    """
    next_probe = time.monotonic()
    while not stop_event.is_set():
        if time.monotonic() >= next_probe:
            result = probe(session.transport, tunnel.remote_port, session.forwarder, tunnel.connect_timeout)
            next_probe = time.monotonic() + tunnel.probe_interval
            if not session.transport.is_active():
                break
            if result.ok:
                state.up()
                on_verified()
            elif result.reconnect:
                return f"probe failed: {result.detail}"
            else:
                state.unverified(result.detail)
        if not session.transport.is_active():
            break
        state.refresh_status()
        notifier.watchdog()
        stop_event.wait(TICK_SECONDS)
    if stop_event.is_set():
        return None
    return session.keepalive.dead_reason or "connection closed by the bastion or the network"
