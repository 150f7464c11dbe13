"""One SSH session to the bastion: connect, request the forwards, watch them until the session dies or we stop."""

import logging
import time

from meso360.errors import TunnelError
from meso360.tunnel import ssh
from meso360.tunnel.forward import ForwardDispatcher, Forwarder
from meso360.tunnel.health import Keepalive, probe
from meso360.tunnel.web_forward import WebForward

log = logging.getLogger(__name__)

TICK_SECONDS = 1.0


class Session:
    """A connected transport with the sshd forward in place, its forwarders, keepalive thread and web forward."""

    def __init__(self, client, dispatcher, forwarder, keepalive, web=None):
        self.client = client
        self.transport = client.get_transport()
        self.dispatcher = dispatcher
        self.forwarder = forwarder
        self.keepalive = keepalive
        self.web = web  # WebForward, or None when tunnel.remote_web_port is 0

    @classmethod
    def open(cls, client, tunnel, pkey, web_listen=None):
        """Connect `client` (ssh.new_client) and request the sshd forward. Return a Session. Raise TunnelError.

        With tunnel.remote_web_port set, the session gets a WebForward to [web] listen `web_listen`, requested by
        the first watch() tick (not here, so the set-up's waits stay within one watchdog period).
        """
        ssh.connect(client, tunnel, pkey)
        transport = client.get_transport()
        dispatcher = ForwardDispatcher()
        forwarder = Forwarder(tunnel.local_port, tunnel.connect_timeout)
        dispatcher.add(tunnel.remote_port, forwarder)
        try:
            ssh.request_forward(transport, tunnel.remote_port, dispatcher, tunnel.connect_timeout)
        except TunnelError:
            client.close()
            raise
        web = WebForward(transport, dispatcher, tunnel, web_listen) if tunnel.remote_web_port else None
        keepalive = Keepalive(transport, tunnel.keepalive_interval, tunnel.keepalive_misses)
        keepalive.start()
        return cls(client, dispatcher, forwarder, keepalive, web)

    def close(self):
        self.keepalive.stop()
        self.dispatcher.close()
        self.client.close()


def watch(session, tunnel, state, stop_event, notifier, on_verified):
    """Probe and watch `session` until it dies (return the reason) or stop_event is set (return None).

    Probes at once, then every probe_interval (the sshd forward, then the web forward if any); the keepalive
    thread closes the transport after keepalive_misses unanswered keepalives. Sends WATCHDOG=1 on every healthy
    tick of this loop.
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
            if session.web is not None and session.transport.is_active():
                notifier.watchdog()  # the sshd probe has its answer: the web forward's waits start a new period
                session.web.check(state)
        if not session.transport.is_active():
            break
        state.refresh_status()
        notifier.watchdog()
        stop_event.wait(TICK_SECONDS)
    if stop_event.is_set():
        return None
    return session.keepalive.dead_reason or "connection closed by the bastion or the network"
