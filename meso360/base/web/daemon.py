"""meso360-base-web: the fleet page of the base on waitress (the vehicle web's server), fed by one poller thread;
sd_notify READY/STATUS/WATCHDOG as the vehicle web.

    meso360-base-web [--fleet-config PATH] [--port-file PATH] [-v]
"""

import argparse
import functools
import logging
import sys
import threading

from meso360 import service
from meso360.base import fleet_config
from meso360.base.web.app import create_app
from meso360.base.web.broadcast import MAX_VIEWERS, Broadcaster
from meso360.base.web.poller import FleetPoller
from meso360.errors import EXIT_CONFIG, EXIT_FAILURE, EXIT_OK, ConfigError
from meso360.logs import setup_logging
from meso360.web.daemon import THREAD_STACK_BYTES, _probe_host, _write_port_file, check_health, report_health
from meso360.web.fanout import FanoutServer, serve_fanout
from meso360.web.server import create_server

log = logging.getLogger("meso360.base.web")

WORKER_THREADS = 8  # page, snapshot, files, health: short answers only (the streams hold none, broadcast.py)
CONNECTION_LIMIT = MAX_VIEWERS + 100  # the unit's LimitNOFILE= leaves room for these
LOOP_INTERVAL_S = 5.0  # at most half of WatchdogSec (30 s in the unit)
FIRST_SNAPSHOT_TIMEOUT_S = 10.0


def _status_line(poller, broadcaster, listen):
    counts = ", ".join(f"{number} {state}" for state, number in sorted(poller.counts().items())) or "no vehicles"
    prometheus = "Prometheus not answering" if poller.error else "Prometheus answering"
    return f"serving on {listen}; {counts}; {prometheus}; {broadcaster.viewers} live viewers"


def run(fleet, stop_event, notifier, port_file=None):
    """Serve the fleet page until `stop_event` is set; return the exit code."""
    threading.stack_size(THREAD_STACK_BYTES)
    broadcaster = Broadcaster()
    poller = FleetPoller(fleet, broadcaster.publish)
    host, port = fleet.web.listen
    try:
        server = create_server(
            create_app(fleet, poller, stop_event),
            host,
            port,
            server_class=FanoutServer,
            threads=WORKER_THREADS,
            connection_limit=CONNECTION_LIMIT,
            ident="meso360-base-web",
        )
    except OSError as error:
        log.error("cannot listen on %s:%d: %s", host, port, error)
        return EXIT_FAILURE
    serve_fanout(server, broadcaster)
    bound_host, bound_port = server.effective_host, int(server.effective_port)
    listen = f"{bound_host}:{bound_port}" if ":" not in bound_host else f"[{bound_host}]:{bound_port}"
    log.info("fleet page on %s: %d vehicles, Prometheus %s", listen, len(fleet.vehicles), fleet.web.prometheus_url)
    poller.page_port = bound_port
    poller.start(stop_event, broadcaster.keep_alive)
    serving = threading.Thread(target=server.run, name="http-server", daemon=True)
    serving.start()
    poller.ready.wait(FIRST_SNAPSHOT_TIMEOUT_S)
    if port_file:
        _write_port_file(port_file, bound_port)
    notifier.ready(_status_line(poller, broadcaster, listen))
    try:
        return _check_until_stopped(stop_event, notifier, (poller, broadcaster), serving, bound_host, bound_port)
    finally:
        broadcaster.close()
        server.task_dispatcher.shutdown(timeout=5)
        server.close()


def _check_until_stopped(stop_event, notifier, parts, serving, host, port):
    """Every pass: GET /healthz on our own socket (it checks the poller's heartbeat); WATCHDOG=1 only when it
    answered 200. Return the exit code."""
    poller, broadcaster = parts
    listen = f"{host}:{port}"
    interval = min(LOOP_INTERVAL_S, notifier.watchdog_interval_s() or LOOP_INTERVAL_S)
    failing = None
    while not stop_event.is_set():
        status_text = functools.partial(_status_line, poller, broadcaster, listen)
        failing = report_health(check_health(_probe_host(host), port), failing, notifier, status_text)
        if not serving.is_alive():
            log.error("the HTTP server thread ended")
            return EXIT_FAILURE
        stop_event.wait(interval)
    return EXIT_OK


def main(argv=None):
    """Serve until SIGTERM or SIGINT; exit 78 on an invalid fleet.conf, 1 when the server cannot run."""
    parser = argparse.ArgumentParser(prog="meso360-base-web", description=__doc__.splitlines()[0])
    parser.add_argument("--fleet-config", help=f"default: ${fleet_config.ENV_VAR} or {fleet_config.DEFAULT_PATH}")
    parser.add_argument("--port-file", help="write the bound TCP port to this file once listening (tests, port 0)")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    args = parser.parse_args(argv)
    log_ = setup_logging("meso360.base.web", verbose=args.verbose)
    try:
        fleet = fleet_config.load(args.fleet_config)
    except ConfigError as error:
        service.log_config_problems(error, log_)
        sys.exit(EXIT_CONFIG)
    sys.exit(service.serve(log_, lambda stop_event, notifier: run(fleet, stop_event, notifier, args.port_file)))


if __name__ == "__main__":
    main()
