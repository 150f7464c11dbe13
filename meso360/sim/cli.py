"""meso360-sim: command line of the Campbell CR1000X datalogger simulator."""

import calendar
import datetime as dt
import faulthandler
import functools
import ipaddress
import json
import os
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

import click

from meso360 import service
from meso360.errors import EXIT_FAILURE, EXIT_USAGE
from meso360.logs import setup_logging
from meso360.sim.app import Simulator
from meso360.sim.replay import load_rows
from meso360.sim.server import ServerOptions
from meso360.sim.state import StateSaver, load_state, save_state
from meso360.sim.table import Logger, TableOptions

STATUS_INTERVAL_S = 5.0
# How often the state file is rewritten while running (and once more at stop). A simulator killed
# without a save goes on from an older state: it produces the same records again, value for value.
STATE_SAVE_INTERVAL_S = 5.0
# Options a resumed logger ignores: it goes on with the signature, numbers and clock of its state.
FIRST_START_OPTIONS = ("prefill", "start_time", "first_record", "signature")


def parse_start_time(text):
    """Parse an ISO 8601 UTC time ("2026-11-26T23:59:30Z") to whole epoch seconds; None: now."""
    if text is None:
        return int(time.time())
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise click.BadParameter(f"{text!r} is not an ISO 8601 time such as 2026-11-26T23:59:30Z") from None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(dt.UTC).replace(tzinfo=None)
    return calendar.timegm(parsed.timetuple())


def is_loopback(host):
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def write_ports_file(path, ports):
    """Write the ports JSON atomically (a reader never sees a partial file)."""
    path = Path(path)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(descriptor, "w") as handle:
        json.dump(ports, handle)
    os.replace(temporary, path)


def run(simulator, stop_event, notifier, log, saver=None):
    """Produce records until stop_event; report READY/STATUS/WATCHDOG to systemd; save the state with `saver`."""
    logger = simulator.logger
    last_status = [0.0]

    def on_record(record):
        # WATCHDOG only on real progress: the clock thread just stored a record.
        notifier.watchdog()
        now = time.monotonic()
        if now - last_status[0] >= STATUS_INTERVAL_S:
            last_status[0] = now
            state = logger.state()
            notifier.status(
                f"logger {'DOWN (outage)' if state['outage'] else 'up'}, newest record {state['newest_record']} "
                f"at {state['newest_time']}, {state['table_records']} held, {state['requests']} requests"
            )

    clock = threading.Thread(target=logger.run_clock, args=(stop_event, on_record), name="clock", daemon=True)
    clock.start()
    notifier.ready(f"logger on port {simulator.port}, control on port {simulator.control_port}")
    while not stop_event.wait(STATE_SAVE_INTERVAL_S if saver else None):
        saver.save()
    log.info("stopping")
    simulator.stop()
    clock.join(timeout=2)
    if saver and saver.save():
        log.info("state saved to %s: the next start goes on from record %s", saver.path, logger.next_no)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="Accepted for uniformity; not read.")
@click.option("--host", default=None, help="Address to bind (default 127.0.0.1; non-loopback only when explicit).")
@click.option("--port", default=8081, show_default=True, type=click.IntRange(0, 65535), help="Logger port, 0: free.")
@click.option("--control-port", default=0, show_default=True, type=click.IntRange(0, 65535), help="Control port.")
@click.option("--rate", default=1.0, show_default=True, type=click.FloatRange(0.01, 1000), help="Records/wall s.")
@click.option("--start-time", default=None, help="Logger time of the first new record, ISO 8601 UTC (default: now).")
@click.option("--prefill", default=0, show_default=True, type=click.IntRange(0), help="Records already held.")
@click.option("--table-size", default=86400, show_default=True, type=click.IntRange(1), help="Ring table size.")
@click.option("--page-size", default=500, show_default=True, type=click.IntRange(1), help="Records per answer.")
@click.option("--first-record", default=0, show_default=True, type=click.IntRange(0), help="First record number.")
@click.option("--signature", default=None, type=click.IntRange(1, 65535), help="Table signature (default: random).")
@click.option("--data", "data_path", default=None, type=click.Path(exists=True, dir_okay=False), help="Rows to replay.")
@click.option("--ports-file", default=None, type=click.Path(dir_okay=False), help="Write {logger, control} ports.")
@click.option(
    "--state-file",
    default=None,
    type=click.Path(dir_okay=False),
    help="Keep signature, record numbers and clock here: a restart goes on as the same logger.",
)
@click.option("--station-name", default="MM1", show_default=True, help="station_name in DataQuery heads.")
@click.option("--no-dataquery", is_flag=True, help="Emulate an old logger: DataQuery and ClockCheck answer 404.")
@click.option("--omit-more", is_flag=True, help='Leave "more" out of complete answers (old OS behaviour).')
@click.option("--username", default=None, help="Require HTTP Basic auth with this user.")
@click.option("--password", default=None, help="Password for --username.")
@click.option("-v", "--verbose", is_flag=True, help="Log every request.")
def main(**options):
    """Simulate the vehicle's Campbell CR1000X datalogger web server, replaying real observations."""
    log = setup_logging("meso360.sim", verbose=options["verbose"])
    # Loopback unless --host names another address explicitly (nothing else can choose the address).
    host = options["host"] or "127.0.0.1"
    if not is_loopback(host):
        log.warning("binding non-loopback address %s as requested", host)
    if options["password"] is not None and options["username"] is None:
        raise click.UsageError("--password needs --username")
    logger, saver = make_logger(options, log)
    # The simulator reads no config file: the skeleton's stop signals, notify and exit codes, without config.
    server = server_options(options, host)
    sys.exit(service.serve(log, functools.partial(serve_logger, logger, saver, server, options["ports_file"], log)))


def make_logger(options, log):
    """Return the Logger the options describe (going on from --state-file if it exists) and its StateSaver (None
    without --state-file). Exit with the usage code if the observations or the state file cannot be used."""
    try:
        rows = load_rows(options["data_path"])
    except (OSError, ValueError) as error:
        log.error("cannot load observations: %s", error)
        sys.exit(EXIT_USAGE)
    resume = load_state(options["state_file"]) if options["state_file"] else None
    if resume is not None:
        ignored = [f"--{name.replace('_', '-')}" for name in FIRST_START_OPTIONS if options[name]]
        if ignored:
            log.info("going on from %s: %s ignored (first start only)", options["state_file"], ", ".join(ignored))
    table_options = TableOptions(
        start_seconds=parse_start_time(options["start_time"]),
        rate=options["rate"],
        prefill=options["prefill"],
        table_size=options["table_size"],
        first_record=options["first_record"],
        signature=options["signature"],
        resume=resume,
    )
    logger = Logger(rows, table_options)
    saver = StateSaver(options["state_file"], logger.saved_state) if options["state_file"] else None
    if saver:
        try:  # at once: a path that cannot be written is refused now, not found out at the stop
            save_state(saver.path, logger.saved_state())
        except OSError as error:
            log.error("cannot save the state file %s: %s", saver.path, error)
            sys.exit(EXIT_USAGE)
    return logger, saver


def server_options(options, host):
    return ServerOptions(
        host=host,
        port=options["port"],
        control_port=options["control_port"],
        page_size=options["page_size"],
        station_name=options["station_name"],
        username=options["username"],
        password=options["password"],
        no_dataquery=options["no_dataquery"],
        omit_more=options["omit_more"],
    )


def serve_logger(logger, saver, options, ports_file, log, stop_event, notifier):
    """Serve `logger` over HTTP until stop_event; return the exit code."""
    simulator = Simulator(logger, options, stop_event)
    try:
        simulator.start()
    except OSError as error:
        log.error("cannot bind %s: %s", options.host, error)
        return EXIT_FAILURE
    faulthandler.register(signal.SIGUSR1, all_threads=True)  # `kill -USR1`: every thread's stack to stderr
    url_host = f"[{options.host}]" if ":" in options.host else options.host
    click.echo(
        f"meso360-sim: logger http://{url_host}:{simulator.port}/ control http://{url_host}:{simulator.control_port}/",
        nl=True,
    )
    sys.stdout.flush()
    if ports_file:
        write_ports_file(ports_file, {"logger": simulator.port, "control": simulator.control_port})
    run(simulator, stop_event, notifier, log, saver)


if __name__ == "__main__":
    main()
