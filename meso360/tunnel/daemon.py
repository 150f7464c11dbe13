"""meso360-tunnel entry point: keep the bastion's remote_port forwarded to the vehicle's sshd."""

import logging
import sys
import threading

from meso360 import service
from meso360.errors import EXIT_FAILURE, EXIT_OK, TunnelError
from meso360.logs import setup_logging
from meso360.service import Backoff, wait_feeding_watchdog
from meso360.tunnel import ssh
from meso360.tunnel.session import Session, watch
from meso360.tunnel.state import TunnelState
from meso360.tunnel.web_forward import web_target

log = logging.getLogger("meso360.tunnel")

CLOSE_POLL_S = 0.05  # after a stop, how often to look for a transport connect() has just made


class _CloseOnStop:
    """Close the current SSH transport as soon as stop is requested, so no SSH wait delays SIGTERM."""

    def __init__(self, stop_event):
        self._client = None
        self._lock = threading.Lock()
        self._stop_event = stop_event
        self._joined = threading.Event()
        threading.Thread(target=self._close_when_stopped, name="close-on-stop", daemon=True).start()

    def track(self, client):
        with self._lock:
            self._client = client

    def _close_when_stopped(self):
        self._stop_event.wait()
        # connect() makes the client's transport only once TCP is connected, maybe after the stop: until join(),
        # close whatever transport appears.
        while True:
            self._close_transport()
            if self._joined.wait(CLOSE_POLL_S):
                return

    def _close_transport(self):
        """Close the tracked client's transport, if it has one yet; return it."""
        with self._lock:
            transport = self._client.get_transport() if self._client else None
        if transport is not None:
            transport.close()  # not client.close(): connect() may still be using the client
        return transport

    def join(self, timeout_seconds=5.0):
        """Wait for the last transport's thread to end: a paramiko thread still writing to stderr
        while the interpreter shuts down aborts the process (SIGABRT) instead of a clean exit."""
        self._joined.set()
        transport = self._close_transport()
        if transport is not None and transport.is_alive():
            transport.join(timeout_seconds)


def _wait_retry(delay, stop_event, notifier, state):
    """Wait out a back-off delay while telling systemd the loop is alive; return early on stop."""
    wait_feeding_watchdog(stop_event, delay, lambda: (state.refresh_status(), notifier.watchdog()))


def run(config, stop_event, notifier):
    """Keep the tunnel described by config.tunnel up until stop_event is set. Return the exit code.

    Raise ConfigError if the key file or known_hosts cannot be used.
    """
    tunnel = config.tunnel
    if not tunnel.configured:
        log.info("tunnel.host is empty in %s: the tunnel is not configured, nothing to do", config.path)
        return EXIT_OK
    pkey = ssh.load_private_key(tunnel.key_file)
    host_keys = ssh.load_known_hosts(tunnel.known_hosts)
    state = TunnelState(tunnel, config.general.state_dir, notifier, web_target(config.web.listen))
    backoff = Backoff(tunnel.retry_max_delay)
    closer = _CloseOnStop(stop_event)
    attempts = 0
    where = (tunnel.user, tunnel.host, tunnel.port, tunnel.remote_port, tunnel.local_port)
    log.info("keeping %s@%s:%s port %s forwarded to local port %s", *where)
    if tunnel.remote_web_port:
        log.info("and port %s forwarded to the web daemon at %s", tunnel.remote_web_port, state.web_local)
    while not stop_event.is_set():
        state.reconnects = attempts  # attempts after the first one
        attempts += 1
        state.connecting(f"connecting to {tunnel.host}:{tunnel.port}")
        notifier.watchdog()
        client = ssh.new_client(tunnel, host_keys)
        closer.track(client)
        try:
            session = Session.open(client, tunnel, pkey, config.web.listen)
        except TunnelError as error:
            if stop_event.is_set():
                break  # the failure is our own closing of the transport
            delay = backoff.next_delay()
            # A refused host key may be an impersonation attempt: make it stand out in `journalctl -p err`.
            state.down(str(error), delay, logging.ERROR if isinstance(error, ssh.HostKeyRefused) else logging.WARNING)
            _wait_retry(delay, stop_event, notifier, state)
            continue
        state.connecting("forward requested, verifying")
        notifier.watchdog()  # the session is open: the probe's waits start a new watchdog period
        try:
            reason = watch(session, tunnel, state, stop_event, notifier, on_verified=backoff.reset)
        finally:
            session.close()
        if reason is not None:
            delay = backoff.next_delay()
            state.down(reason, delay)
            _wait_retry(delay, stop_event, notifier, state)
    closer.join()
    return EXIT_OK


def main(argv=None):
    """Keep the tunnel up until SIGTERM or SIGINT; exit 78 on a bad config. --check-configured: see its help."""
    parser = service.argument_parser(
        "meso360-tunnel", "Keep [tunnel] remote_port on the bastion forwarded to this vehicle's sshd."
    )
    parser.add_argument(
        "--check-configured",
        action="store_true",
        help="exit 0 if [tunnel] host is set, 1 if not (for ExecCondition=); an invalid config also exits 0",
    )
    args = parser.parse_args(argv)
    if args.check_configured:
        setup_logging("meso360.tunnel", verbose=args.verbose)
        # For ExecCondition= a broken config must not look like "not configured": let ExecStart fail loudly.
        config = service.load_config(args.config, log, invalid_exit_code=EXIT_OK)
        sys.exit(EXIT_OK if config.tunnel.configured else EXIT_FAILURE)
    service.main(args, "meso360.tunnel", run)


if __name__ == "__main__":
    main()
