"""meso360-web: serve the dashboard, control panel and API with waitress; sd_notify READY/STATUS/WATCHDOG."""

import ctypes
import functools
import http.client
import logging
import os
import threading
import time

from meso360 import service
from meso360.errors import EXIT_FAILURE, EXIT_OK
from meso360.web.alarm_monitor import AlarmMonitor
from meso360.web.app import Services, create_app
from meso360.web.dayhistory import DayHistory
from meso360.web.demo_units import DemoUnits, supervisor_socket
from meso360.web.fanout import FanoutServer, serve_fanout
from meso360.web.livecast import LiveCast
from meso360.web.reader import DataReader
from meso360.web.resources import Resources
from meso360.web.server import WORKER_THREADS, create_server
from meso360.web.sessions import Sessions
from meso360.web.systemd import Systemd
from meso360.web.vehicle_metrics import today_qc_counts
from meso360.web.window import LiveWindow

log = logging.getLogger("meso360.web")

# Worker threads run shallow Python code (requests, generators); the 8 MiB default stack is mostly unused.
THREAD_STACK_BYTES = 512 * 1024
HEALTH_TIMEOUT_S = 2.0
LOOP_INTERVAL_S = 5.0  # at most half of WatchdogSec (30 s in the unit): six passes may fail before systemd acts
LOOP_STALL_PASSES = 3  # /healthz fails for everyone once the loop missed this many passes
M_MMAP_THRESHOLD = -3  # glibc mallopt parameter
MMAP_THRESHOLD_BYTES = 128 * 1024
READER_START_TIMEOUT_S = 60.0


def _fix_mmap_threshold():
    """Keep glibc's mmap threshold at 128 KiB: allocations above it (the columns of a day, 350 kB each)
    then go back to the system when freed. glibc raises the threshold after the first such free, and the
    next day parsed left 5 MB of freed heap in the RSS."""
    try:
        ctypes.CDLL(None).mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)
    except (OSError, AttributeError):
        pass  # not glibc


def units_source(config):
    """Return what shows and controls the meso360 units: systemd, or the demo's supervisor under `make demo`."""
    demo = supervisor_socket()
    return Systemd(config.tunnel.configured) if demo is None else DemoUnits(demo)


def build_services(config, stop_event):
    """Given the Config, return the Services of a web daemon (the reader is not started yet)."""
    general = config.general
    window = LiveWindow(general.vehicle, config.web.history_hours * 3600)
    return Services(
        config=config,
        window=window,
        reader=DataReader(general.data_dir, window),
        systemd=units_source(config),
        resources=Resources(general.data_dir),
        sessions=Sessions(),
        day_history=DayHistory(general.data_dir, general.vehicle),
        stop_event=stop_event,
    )


def check_health(host, port):
    """GET /healthz on our own socket; return None when it answers 200, else what went wrong."""
    connection = http.client.HTTPConnection(host, port, timeout=HEALTH_TIMEOUT_S)
    try:
        connection.request("GET", "/healthz", headers={"User-Agent": "meso360-web-watchdog"})
        answer = connection.getresponse()
        body = answer.read(200).decode(errors="replace").strip()
        return None if answer.status == 200 else f"/healthz answered {answer.status}: {body}"
    except (OSError, http.client.HTTPException) as error:
        return f"/healthz did not answer: {error}"
    finally:
        connection.close()


def report_health(problem, failing, notifier, status_text):
    """Given this pass's health problem (None: healthy) and the last pass's, send WATCHDOG=1 and STATUS=status_text()
    when healthy (only when the server really answered), else STATUS=unhealthy; log each change; return problem."""
    if problem is None:
        notifier.watchdog()
        notifier.status(status_text())
        if failing:
            log.info("health check passes again")
    elif problem != failing:
        log.warning("health check failed: %s (no watchdog ping)", problem)
        notifier.status(f"unhealthy: {problem}")
    return problem


def _probe_host(listen_host):
    if listen_host in ("0.0.0.0", ""):  # noqa: S104  not a bind: a wildcard listen address is probed on loopback
        return "127.0.0.1"
    if listen_host == "::":
        return "::1"
    return listen_host


def _status_line(services, listen):
    newest = services.window.newest
    age = "no observations yet" if newest is None else f"newest obs {max(0, round(time.time() - newest.ts))} s old"
    return f"serving on {listen}, {services.sse_clients} SSE clients, {age}"


def _write_port_file(port_file, port):
    temporary = f"{port_file}.tmp"
    with open(temporary, "w", encoding="ascii") as file:
        file.write(f"{port}\n")
    os.replace(temporary, port_file)


def run(config, stop_event, notifier, port_file=None, services=None):
    """Serve until `stop_event` is set; return the exit code. `services`: built by build_services (tests)."""
    _fix_mmap_threshold()
    threading.stack_size(THREAD_STACK_BYTES)  # for the threads started below (reader, server workers)
    services = services or build_services(config, stop_event)
    services.reader.start(stop_event)
    services.systemd.start(stop_event)
    services.day_history.start_warming(stop_event, services.reader.ready)
    services.alarms = services.alarms or AlarmMonitor(config, services.window, services.systemd)
    host, port = config.web.listen
    try:
        server = create_server(create_app(services), host, port, server_class=FanoutServer)  # binds the socket
    except OSError as error:
        log.error("cannot listen on %s:%d: %s", host, port, error)
        return EXIT_FAILURE
    live = LiveCast(services)
    serve_fanout(server, live)
    live.start(stop_event)
    services.pending_output_bytes = server.pending_output_bytes
    bound_host, bound_port = server.effective_host, int(server.effective_port)
    listen = f"{bound_host}:{bound_port}" if ":" not in bound_host else f"[{bound_host}]:{bound_port}"
    log.info("listening on %s (%d server threads)", listen, WORKER_THREADS)
    if port_file:
        _write_port_file(port_file, bound_port)
    serving = threading.Thread(target=server.run, name="http-server", daemon=True)
    serving.start()
    services.reader.ready.wait(READER_START_TIMEOUT_S)
    services.alarms.start(stop_event)  # first evaluation now: the rows are read
    # Today's QC flags are counted once in full (a day's sidecar: about 1 s), then as they are appended: here,
    # not in the first /api/status or /metrics request.
    threading.Thread(
        target=today_qc_counts, args=(services.reader, services.qc_tally), name="qc-tally", daemon=True
    ).start()
    notifier.ready(_status_line(services, listen))
    try:
        probe_address = (_probe_host(bound_host), bound_port)
        return _check_until_stopped(stop_event, notifier, services, (serving, live.thread), probe_address, listen)
    finally:
        services.window.close()  # the live stream's thread closes its viewers
        live.thread.join(5)
        # Workers first (the log and tail streams end on stop_event), while the event loop still sends what they
        # wrote; closing the server first made their last writes fail with tracebacks.
        server.task_dispatcher.shutdown(timeout=5)
        server.close()


def _check_until_stopped(stop_event, notifier, services, threads, probe_address, listen):
    """Check the server's health every pass until stop_event, feeding the watchdog while it is healthy; return
    the exit code."""
    host, port = probe_address
    interval = min(LOOP_INTERVAL_S, notifier.watchdog_interval_s() or LOOP_INTERVAL_S)
    services.loop_stall_s = LOOP_STALL_PASSES * interval
    services.loop_heartbeat = time.monotonic()  # from now on a loop stuck, even in its first pass, is seen
    failing = None
    while not stop_event.is_set():
        # WATCHDOG=1 needs three things to progress: the server (it answered /healthz on a new
        # connection), the data reader (/healthz checks its heartbeat) and this loop (it sends the ping).
        # The loop's own heartbeat, stamped at the end of a pass, is for the other callers of /healthz.
        failing = report_health(check_health(host, port), failing, notifier, lambda: _status_line(services, listen))
        ended = [thread.name for thread in threads if not thread.is_alive()]
        if ended:
            log.error("the %s thread ended", ended[0])
            return EXIT_FAILURE
        services.loop_heartbeat = time.monotonic()
        stop_event.wait(interval)
    return EXIT_OK


def main(argv=None):
    """Serve until SIGTERM or SIGINT; exit 78 on a bad config, 1 when the server cannot run."""
    parser = service.argument_parser("meso360-web", __doc__)
    parser.add_argument("--port-file", help="write the bound TCP port to this file once listening (tests, port 0)")
    args = parser.parse_args(argv)
    service.main(args, "meso360.web", functools.partial(run, port_file=args.port_file))


if __name__ == "__main__":
    main()
