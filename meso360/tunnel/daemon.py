"""meso360-tunnel entry point: keep the bastion's remote_port forwarded to the vehicle's sshd."""

import argparse
import logging
import random
import sys
import threading
import time

from meso360 import config as config_module
from meso360.errors import EXIT_CONFIG, EXIT_FAILURE, EXIT_OK, ConfigError, TunnelError
from meso360.logs import setup_logging
from meso360.notify import Notifier
from meso360.signals import stop_on_signals
from meso360.tunnel import ssh
from meso360.tunnel.session import Session, watch
from meso360.tunnel.state import TunnelState

log = logging.getLogger("meso360.tunnel")

INITIAL_RETRY_SECONDS = 1.0


class Backoff:
    """Exponential reconnect delays with jitter: about 1, 2, 4 … seconds, capped at max_seconds."""

    def __init__(self, max_seconds, initial_seconds=INITIAL_RETRY_SECONDS):
        self._max = max_seconds
        self._initial = min(initial_seconds, max_seconds)
        self._attempt = 0

    def next_delay(self):
        """Return the next wait in seconds (between half and all of the exponential step)."""
        step = min(self._max, self._initial * 2**self._attempt)
        self._attempt = min(self._attempt + 1, 30)
        return random.uniform(step / 2, step)  # noqa: S311  retry jitter, no secret

    def reset(self):
        self._attempt = 0


class _CloseOnStop:
    """Close the current SSH transport as soon as stop is requested, so no SSH wait delays SIGTERM.

    After a stop it keeps closing whatever transport the client has until run() ends: a SIGTERM that
    arrives while paramiko is still between the TCP connect and starting its transport would otherwise
    find nothing to close, and the banner wait (up to connect_timeout) would delay the stop.
    """

    POLL_SECONDS = 0.05

    def __init__(self, stop_event):
        self._client = None
        self._lock = threading.Lock()
        self._stop_event = stop_event
        self._finished = threading.Event()
        threading.Thread(target=self._close_when_stopped, name="close-on-stop", daemon=True).start()

    def track(self, client):
        with self._lock:
            self._client = client

    def _current_transport(self):
        with self._lock:
            return self._client.get_transport() if self._client else None

    def _close_when_stopped(self):
        self._stop_event.wait()
        while not self._finished.is_set():
            transport = self._current_transport()
            if transport is not None and transport.active:
                transport.close()  # not client.close(): connect() may still be using the client
            self._finished.wait(self.POLL_SECONDS)

    def join(self, timeout_seconds=5.0):
        """Wait for the last transport's thread to end: a paramiko thread still writing to stderr
        while the interpreter shuts down aborts the process (SIGABRT) instead of a clean exit."""
        self._finished.set()
        transport = self._current_transport()
        if transport is not None:
            transport.close()
            if transport.is_alive():
                transport.join(timeout_seconds)


def _wait_with_watchdog(seconds, stop_event, notifier, state):
    """Wait out a backoff delay while telling systemd the loop is alive; return early on stop."""
    deadline = time.monotonic() + seconds
    while not stop_event.is_set():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return
        state.refresh_status()
        notifier.watchdog()
        stop_event.wait(min(1.0, remaining))


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
    state = TunnelState(tunnel, config.general.state_dir, notifier)
    backoff = Backoff(tunnel.retry_max_delay)
    closer = _CloseOnStop(stop_event)
    attempts = 0
    log.info(
        "keeping %s@%s:%s port %s forwarded to local port %s",
        tunnel.user,
        tunnel.host,
        tunnel.port,
        tunnel.remote_port,
        tunnel.local_port,
    )
    while not stop_event.is_set():
        state.reconnects = attempts  # attempts after the first one
        attempts += 1
        state.connecting(f"connecting to {tunnel.host}:{tunnel.port}")
        notifier.watchdog()
        client = ssh.new_client(tunnel, host_keys)
        closer.track(client)
        try:
            session = Session.open(client, tunnel, pkey)
        except TunnelError as error:
            if stop_event.is_set():
                break  # the failure is our own closing of the transport
            delay = backoff.next_delay()
            # A refused host key may be an impersonation attempt: make it stand out in `journalctl -p err`.
            state.down(str(error), delay, logging.ERROR if isinstance(error, ssh.HostKeyRefused) else logging.WARNING)
            _wait_with_watchdog(delay, stop_event, notifier, state)
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
            _wait_with_watchdog(delay, stop_event, notifier, state)
    notifier.stopping()
    closer.join()
    log.info("stopped")
    return EXIT_OK


def _parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="meso360-tunnel", description="Keep [tunnel] remote_port on the bastion forwarded to this vehicle's sshd."
    )
    parser.add_argument(
        "--config", help=f"config file (default: ${config_module.ENV_VAR} or /etc/meso360/meso360.conf)"
    )
    parser.add_argument(
        "--check-configured",
        action="store_true",
        help="exit 0 if [tunnel] host is set, 1 if not (for ExecCondition=); an invalid config also exits 0",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return parser.parse_args(argv)


def _print_problems(error):
    for problem in error.problems:
        print(f"meso360-tunnel: {problem}", file=sys.stderr)


def main(argv=None):
    """Parse arguments, load the config once, run the tunnel until SIGTERM/SIGINT; exit with its code."""
    args = _parse_args(argv)
    try:
        config = config_module.load(args.config)
    except ConfigError as error:
        _print_problems(error)
        # For ExecCondition= a broken config must not look like "not configured": let ExecStart fail loudly.
        sys.exit(EXIT_OK if args.check_configured else EXIT_CONFIG)
    if args.check_configured:
        sys.exit(EXIT_OK if config.tunnel.configured else EXIT_FAILURE)

    setup_logging("meso360.tunnel", verbose=args.verbose)
    stop_event = threading.Event()
    stop_on_signals(stop_event, log)
    try:
        code = run(config, stop_event, Notifier())
    except ConfigError as error:
        for problem in error.problems:
            log.error("%s", problem)
        code = EXIT_CONFIG
    sys.exit(code)


if __name__ == "__main__":
    main()
