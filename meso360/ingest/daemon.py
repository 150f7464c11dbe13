"""meso360-ingest: collect every logger record exactly once into the daily files (systemd Type=notify daemon)."""

import logging
import os
import threading
from pathlib import Path

from meso360 import service
from meso360.ingest.collector import Collector
from meso360.ingest.runner import TableRunner
from meso360.ingest.sequencer import ObsFormat
from meso360.ingest.support import SupportFormat
from meso360.logger_api import LoggerClient
from meso360.logger_state import LoggerStateWriter
from meso360.qc.writer import run_qc
from meso360.service import Backoff, wait_feeding_watchdog

log = logging.getLogger("meso360.ingest")

SUPPORT_LOG_EVERY_S = 60.0
# Support rows are not shown live: polling them every few seconds (since-record, so nothing is missed) keeps
# the daemon's CPU use low; Obs keeps the phase-locked poll_interval.
SUPPORT_POLL_INTERVAL_S = 5.0
# With the legacy protocol (no DataQuery) a record is collected only while the legacy pages still show it: the
# newest one (NewestRecord), or the last 10 Obs records (lastrecords.html). Both tables are then polled, and retried
# after a failure, at least this often, so that window is never outrun while the logger answers.
LEGACY_POLL_INTERVAL_S = 1.0


def legacy_interval(ingest):
    return min(ingest.poll_interval, LEGACY_POLL_INTERVAL_S)


def directories_problem(general):
    """Create the data, support and state directories; return a problem text, or None when all are writable."""
    for directory in (general.data_dir, general.support_dir, general.state_dir):
        try:
            Path(directory).mkdir(parents=True, exist_ok=True)
        except OSError as error:
            return f"cannot create {directory}: {error.strerror or error}"
        if not os.access(directory, os.W_OK | os.X_OK):
            return f"{directory} is not writable"
    return None


def make_client(ingest):
    return LoggerClient(ingest.logger_url, ingest.request_timeout, ingest.username, ingest.password)


def table_runner(config, client, table, fmt, state_name, interval_s, log_every_s=None):
    """Return the TableRunner collecting `table` into files laid out by `fmt`, its state in state_dir/state_name."""
    state_path = config.general.state_dir / state_name
    collector = Collector(client, table, fmt, state_path, first_start=config.ingest.first_start)
    return TableRunner(collector, interval_s, log_every_s, legacy_interval(config.ingest))


def run_support(config, stop_event):
    """Collect the Support table until stop_event; its failures are logged at most once a minute, never fatal."""
    ingest, general = config.ingest, config.general
    client = make_client(ingest)
    interval = max(ingest.poll_interval, SUPPORT_POLL_INTERVAL_S)
    runner = table_runner(
        config,
        client,
        ingest.support_table,
        SupportFormat(general.support_dir),
        "support.json",
        interval,
        SUPPORT_LOG_EVERY_S,
    )
    try:
        while not stop_event.is_set():
            try:
                delay = runner.step()
            except Exception:
                # Support must never stop Obs: log the unexpected error and keep trying.
                log.exception("Support: unexpected error; Obs collection continues")
                delay = SUPPORT_LOG_EVERY_S
            stop_event.wait(delay)
    finally:
        runner.collector.close()
        client.close()


def run(config, stop_event, notifier):
    """Collect until stop_event is set. Unknown errors propagate (systemd restarts the daemon)."""
    general, ingest = config.general, config.ingest
    backoff = Backoff()
    while (problem := directories_problem(general)) is not None:
        log.error("%s; retrying", problem)
        notifier.status(f"cannot use the data directories: {problem}")
        if wait_feeding_watchdog(stop_event, backoff.next_delay(), notifier.watchdog):
            return
    log.info(
        "collecting %s from %s into %s (state in %s)",
        ingest.obs_table,
        ingest.logger_url,
        general.data_dir,
        general.state_dir,
    )
    client = make_client(ingest)
    runner = table_runner(
        config, client, ingest.obs_table, ObsFormat(general.data_dir), "obs.json", ingest.poll_interval
    )
    notifier.ready(runner.status())
    logger_state = LoggerStateWriter(general.state_dir)
    support = None
    if ingest.support_table:
        support = threading.Thread(target=run_support, args=(config, stop_event), name="support", daemon=True)
        support.start()
    # QC flags (data_dir/YYYYMMDD_qc.txt) follow the data files in their own thread: never in collection's way.
    qc = threading.Thread(target=run_qc, args=(config, stop_event), name="qc", daemon=True)
    qc.start()
    try:
        while not stop_event.is_set():
            delay = runner.step()
            logger_state.note(runner.collector.newest_record)
            notifier.watchdog()
            notifier.status(runner.status())
            wait_feeding_watchdog(stop_event, delay, lambda: (notifier.watchdog(), notifier.status(runner.status())))
    finally:
        stop_event.set()
        runner.collector.close()
        client.close()
        if support is not None:
            support.join(timeout=10)
        qc.join(timeout=10)


def main(argv=None):
    """Collect until SIGTERM or SIGINT; exit 78 on a bad config, 1 on an unexpected error (systemd restarts it)."""
    args = service.argument_parser("meso360-ingest", __doc__).parse_args(argv)
    service.main(args, "meso360.ingest", run)


if __name__ == "__main__":
    main()
