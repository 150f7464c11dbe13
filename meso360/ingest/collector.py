"""Exactly-once collection of one logger table into daily files: resume, crash reconciliation, since-record polls.

Write order per batch: rows appended (one write per line) and fsynced, then the state updated in memory; it is saved
at most every STATE_SAVE_INTERVAL_S while the rows go to the state's file, and always at a file switch, a new
sequence, a skipped record and at close. Before the first line goes into a different file, the state is saved naming
that file and its size, so lines not yet accounted for by the saved state only ever sit in the saved state's file,
where the next start finds and reconciles them (matched against the logger's records: never written twice).
"""

import dataclasses
import datetime as dt
import logging
import time

from meso360.ingest import resume
from meso360.ingest import state as state_store
from meso360.ingest.appender import DailyAppender
from meso360.ingest.bad_records import BadRecords, valid_prefix
from meso360.ingest.protocol import Protocol
from meso360.ingest.sequencer import Episodes

log = logging.getLogger(__name__)

REGRESSION_CHECK_AFTER_EMPTY_POLLS = (3, 10, 30)
STATE_SAVE_INTERVAL_S = 5.0  # same-file state saves at most this often (the crash window is reconciled at start)


def utc_now():
    return dt.datetime.now(dt.UTC)


class Collector:
    """Collect table `table` of the logger through `client` into files laid out by `fmt` (ObsFormat/SupportFormat)."""

    def __init__(self, client, table, fmt, state_path, now=utc_now, clock=time.monotonic, first_start="today"):
        self.table = table
        self.fmt = fmt
        self.state_file = state_store.StateFile(state_path, table, fmt.directory)
        self.first_start = first_start  # where a start without state or data files begins (resume.FIRST_START_CHOICES)
        self.now = now
        self.clock = clock
        self.saved_at = None  # clock() of the last state save
        self.unsaved = False  # the state in memory is ahead of the saved one (same file, reconciled at start)
        self.appender = DailyAppender(fmt.header)
        self.state = None
        self.protocol = Protocol(client, table, fmt, lambda: self.state.signature if self.state is not None else None)
        self.episodes = Episodes(table)
        self.bad_records = BadRecords(table, clock)
        self.catchup = None  # {"recovered", "lost"} from a start or reconnection until caught up
        self.backfill = None  # (last record before the backfill, newest record then) while pages have `more`
        self.last_time_text = None
        self.newest_record = None  # the last Record written (its values: logger_state reads BattV from it)
        self.empty_polls = 0
        self.written_total = 0

    # -- start: state, reconciliation, or a start without state ------------------------------------------------

    @property
    def started(self):
        return self.state is not None

    @property
    def next_no(self):
        return self.state.last_record + 1

    def start(self):
        """Load the state and reconcile the crash window, or decide where to start without state.

        Raise LoggerError when the logger is needed and not reachable, OSError when the disk is not usable.
        """
        saved = self.state_file.load()
        self.catchup = None
        if saved is None or saved.last_record is None:
            saved = resume.decide_without_state(self.protocol, self.fmt, self.now, self.first_start)
        else:
            self.catchup = {"recovered": 0, "lost": 0}
            resume.reconcile(self.protocol, self.fmt, self.now, saved)
            saved = resume.check_against_logger(self.protocol, self.fmt, self.now, saved)
            log.info("%s: resuming after record %d (signature %s)", self.table, saved.last_record, saved.signature)
        self._save(saved)

    # -- polling -------------------------------------------------------------------------------------------------

    def poll(self):
        """Ask for the records from next_no on, write them; return True if more are waiting (poll again now).

        Raise LoggerError when the logger fails, OSError when the files or state cannot be written.
        """
        page = self.protocol.since(self.next_no)
        if self._sequence_changed(page.signature):
            return True
        before = self.state.last_record
        valid, problem = valid_prefix(page.records, self.next_no)
        if valid:
            self.empty_polls = 0
            lost = valid[0].no - self.next_no
            if lost > 0:
                log.warning(
                    "%s: records %d-%d were lost (%s)",
                    self.table,
                    self.next_no,
                    valid[0].no - 1,
                    self.protocol.current.loss_reason,
                )
                if self.catchup is not None:
                    self.catchup["lost"] += lost
            self.write(valid)
            self.bad_records.forget_written(self.next_no)
        elif not page.records:
            self.empty_polls += 1
            if self.empty_polls in REGRESSION_CHECK_AFTER_EMPTY_POLLS or self.empty_polls % 60 == 0:
                self._check_regression(page.signature)
        if problem is not None and self.bad_records.give_up(problem, self.state.last_record, self.next_no):
            self.state.last_record = problem.no
            self._save()
            self.bad_records.forget_written(self.next_no)
        self._track_catchup(page, before)
        self._save_if_due()
        # A bad record is asked for again on the runner's schedule, never in a tight loop.
        return page.more and problem is None

    def _sequence_changed(self, signature):
        if self.state.signature is None:
            self.state.signature = signature
            return False
        if signature == self.state.signature:
            return False
        log.warning(
            "%s: table signature changed from %s to %s (logger program recompiled?): a new record sequence; "
            "collecting it from the oldest record the logger holds",
            self.table,
            self.state.signature,
            signature,
        )
        self._new_sequence(signature)
        return True

    def _check_regression(self, signature):
        _signature, newest = self.protocol.newest()
        if newest is None or newest.no >= self.state.last_record:
            return
        log.warning(
            "%s: record numbers went back from %d to %d (table reset?): the rows on disk decide where to resume",
            self.table,
            self.state.last_record,
            newest.no,
        )
        self.appender.close()
        self.state = resume.after_regression(self.protocol, self.fmt, self.now, signature, newest)
        self.bad_records.clear()
        self.backfill = None
        self._save()

    def _new_sequence(self, signature):
        self.state.signature = signature
        self.state.last_record = -1
        self.bad_records.clear()
        self.backfill = None
        self._save()

    def _track_catchup(self, page, before):
        if page.more:
            if self.backfill is None:
                _signature, newest = self.protocol.newest()
                self.backfill = (before, newest.no if newest else self.state.last_record)
            return
        self.backfill = None
        if self.catchup is not None:
            recovered, lost = self.catchup["recovered"], self.catchup["lost"]
            log.info(
                "%s: recovered %d records, lost %d (older than the logger keeps); now at record %d",
                self.table,
                recovered,
                lost,
                self.state.last_record,
            )
            self.catchup = None

    def note_reconnected(self):
        """The logger answers again after an outage: count what the next polls recover."""
        self.catchup = {"recovered": 0, "lost": 0}

    def backfill_progress(self):
        """Return (done, total) records while backfilling, else None."""
        if self.backfill is None:
            return None
        start, newest = self.backfill
        return max(0, self.state.last_record - start), max(1, newest - start)

    # -- writing -------------------------------------------------------------------------------------------------

    def write(self, records):
        """Append the rows of `records` (valid, in order, all new) to their daily files, then update the state (saved
        when due, see the module docstring).

        Raise OSError if a file or the state cannot be written. When an append failed, the complete rows written
        before the failure are on disk but not in the state: the state is dropped, so the next step starts over
        with the start-up reconciliation, which finds those rows and never writes them twice.
        """
        groups, chain, now = [], (self.state.last_raw_gps, self.state.last_written_gps), self.now()
        for record in records:
            path, line, chain, flag = self.fmt.format(record, chain, now)
            if not groups or groups[-1][0] != path:
                groups.append((path, [], []))
            groups[-1][1].append(line)
            groups[-1][2].append((record, chain, flag))
        for path, lines, done in groups:
            if str(path) != self.state.file:
                # Name the new file in the state before the first line goes into it (see the module docstring).
                size = self.appender.append(path, [])
                self._save(dataclasses.replace(self.state, file=str(path), file_size=size))
            try:
                size = self.appender.append(path, lines)
            except OSError:
                self.appender.close()
                self.state, self.unsaved = None, False
                raise
            last, chain, _flag = done[-1]
            self.state.last_record, self.state.file_size = last.no, size
            self.state.last_raw_gps, self.state.last_written_gps = chain
            for record, _chain, flag in done:
                self.episodes.observe(record.no, flag)
            self.last_time_text = last.time
            self.newest_record = last
            self.written_total += len(lines)
            if self.catchup is not None:
                self.catchup["recovered"] += len(lines)
            self.unsaved = True
        self._save_if_due()

    def _save(self, state=None):
        """Save `state` (default: the current one) durably and make it current. Raise OSError if it cannot be."""
        state = self.state if state is None else state
        self.state_file.save(state)
        self.state, self.saved_at, self.unsaved = state, self.clock(), False

    def _save_if_due(self):
        """Save the state if rows were written since the last save and STATE_SAVE_INTERVAL_S has passed.

        Same file as the saved state: an older state coming back after a crash or power cut is reconciled at start.
        """
        if self.unsaved and (self.saved_at is None or self.clock() - self.saved_at >= STATE_SAVE_INTERVAL_S):
            self.state_file.save(self.state, sync_directory=False)
            self.saved_at, self.unsaved = self.clock(), False

    def close(self):
        """Save the state if it is ahead of the saved one (a clean stop leaves nothing to reconcile), close the file."""
        try:
            if self.unsaved:
                self._save()
        except OSError as error:
            log.error("%s: cannot save the state at stop (%s); the next start reconciles the rows", self.table, error)
        finally:
            self.appender.close()
