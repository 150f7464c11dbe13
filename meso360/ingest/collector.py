"""Exactly-once collection of one logger table into daily files: resume, crash reconciliation, since-record polls.

Write order per batch: rows appended (one write per line) and fsynced, then the state saved. Before the first line
goes into a different file, the state is saved naming that file and its size, so lines not yet accounted for by the
state only ever sit in the state's file, where the next start finds and reconciles them.
"""

import dataclasses
import datetime as dt
import logging
from pathlib import Path

from meso360 import datafile
from meso360.ingest import legacy
from meso360.ingest import state as state_store
from meso360.ingest.sequencer import Episodes
from meso360.ingest.state import TableState

log = logging.getLogger(__name__)

BAD_RECORD_ATTEMPTS = 3
REGRESSION_CHECK_AFTER_EMPTY_POLLS = (3, 10, 30)


def utc_now():
    return dt.datetime.now(dt.UTC)


def thousands(number):
    return f"{number:,}".replace(",", " ")


class Collector:
    """Collect table `table` of the logger through `client` into files laid out by `fmt` (ObsFormat/SupportFormat)."""

    def __init__(self, client, table, fmt, state_path, now=utc_now):
        self.client = client
        self.table = table
        self.fmt = fmt
        self.state_path = Path(state_path)
        self.now = now
        self.appender = datafile.DailyAppender(fmt.header)
        self.state = None
        self.episodes = Episodes(table)
        self.bad_attempts = {}
        self.catchup = None  # {"recovered", "lost"} from a start or reconnection until caught up
        self.backfill = None  # (last record before the backfill, newest record then) while pages have `more`
        self.newest_known = None
        self.last_time_text = None
        self.empty_polls = 0
        self.written_total = 0
        self.legacy = False

    # -- the two protocols: DataQuery, or legacy NewestRecord + lastrecords.html ----------------------------------

    def _since(self, first):
        """Return a Page of the records numbered >= first that the logger still holds (one page)."""
        if not self.legacy:
            return self.client.data_query(self.table, self.fmt.expected_fields, since_record=first)
        return legacy.records_since(self, first)

    def _most_recent(self):
        if not self.legacy:
            return self.client.data_query(self.table, self.fmt.expected_fields, most_recent=1)
        return legacy.newest_page(self)

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
        saved = state_store.load(self.state_path)
        self.catchup = None
        if saved is None or saved.last_record is None:
            saved = self._decide_without_state()
        else:
            self.catchup = {"recovered": 0, "lost": 0}
            self._reconcile(saved)
            log.info("%s: resuming after record %d (signature %s)", self.table, saved.last_record, saved.signature)
        state_store.save(self.state_path, saved)
        self.state = saved

    def _reconcile(self, saved):
        if not saved.file:
            return
        path = Path(saved.file)
        removed = datafile.repair_torn_tail(path)
        if removed:
            log.warning("%s: removed a torn last line of %d bytes from %s (power cut?)", self.table, removed, path)
        size = path.stat().st_size if path.exists() else 0
        if size < saved.file_size:
            log.warning("%s: %s is shorter (%d bytes) than recorded (%d)", self.table, path, size, saved.file_size)
        elif size > saved.file_size:
            extra, end = datafile.read_complete_lines(path, saved.file_size)
            matched = self._match_extra_lines(saved, extra)
            if matched == len(extra):
                log.info(
                    "%s: %d rows written just before the stop are already in %s; not written again",
                    self.table,
                    matched,
                    path,
                )
            else:
                log.warning(
                    "%s: %s has %d rows after the saved state, %d of them match the next records; the others "
                    "are kept as they are",
                    self.table,
                    path,
                    len(extra),
                    matched,
                )
            size = end
        saved.file_size = size

    def _match_extra_lines(self, saved, extra):
        """Advance `saved` over the records whose lines are the `extra` lines already in its file; return how many."""
        matched, chain = 0, (saved.last_raw_gps, saved.last_written_gps)
        while matched < len(extra):
            page = self._since(saved.last_record + 1)
            if None not in (saved.signature, page.signature) and saved.signature != page.signature:
                return matched
            if not page.records:
                return matched
            for record in page.records:
                if record.problem or record.no != saved.last_record + 1 or matched >= len(extra):
                    return matched
                path, line, chain, _flag = self.fmt.format(record, chain, self.now())
                if line != extra[matched] or str(path) != saved.file:
                    return matched
                matched += 1
                saved.last_record, (saved.last_raw_gps, saved.last_written_gps) = record.no, chain
            if not page.more:
                return matched
        return matched

    def _newest_record(self):
        page = self._most_recent()
        newest = next((r for r in reversed(page.records) if not r.problem), None)
        if newest is not None:
            self.newest_known = newest.no
        return page.signature, newest

    def _decide_without_state(self):
        signature, newest = self._newest_record()
        if newest is None:
            log.info("%s: no state and the logger table is empty: collecting from its first record", self.table)
            return TableState(signature=signature, last_record=-1)
        path, line = self._last_line_on_disk()
        if line is None:
            log.info("%s: no state and no data files: starting at the newest record %d", self.table, newest.no)
            return TableState(signature=signature, last_record=newest.no - 1)
        found = self._find_record_of_line(line, newest)
        if found is None:
            log.warning(
                "%s: no state, and the last row of %s is not among the records the logger holds: starting at "
                "the newest record %d (older records not collected)",
                self.table,
                path,
                newest.no,
            )
            return TableState(signature=signature, last_record=newest.no - 1)
        log.info("%s: no state: the last row of %s is record %d; resuming after it", self.table, path, found.no)
        raw_gps, written_gps = self.fmt.chain_after(found, line)
        return TableState(signature, found.no, raw_gps, written_gps, str(path), path.stat().st_size)

    def _last_line_on_disk(self):
        for path in reversed(self.fmt.files()):
            datafile.repair_torn_tail(path)
            lines, _ = datafile.read_complete_lines(path, max(0, path.stat().st_size - 65536))
            data_lines = [line for line in lines if line and line != self.fmt.header]
            if data_lines:
                return path, data_lines[-1]
        return None, None

    def _find_record_of_line(self, line, newest):
        """Return the logger record whose plain line is `line` (latest match), searching near its time first."""
        starts = [0]
        target, newest_time = self.fmt.line_time(line), self.fmt.record_time(newest)
        if target and newest_time:
            estimate = newest.no - int((newest_time - target).total_seconds())
            starts.insert(0, max(0, estimate - 60))
        for first in starts:
            found, since = None, first
            while True:
                page = self._since(since)
                for record in page.records:
                    if not record.problem and self.fmt.plain_line(record) == line:
                        found = record
                if found is not None or not page.more or not page.records:
                    break
                if since == first and first > 0:
                    break  # the estimate missed: scan everything from the oldest
                since = page.records[-1].no + 1
            if found is not None:
                return found
        return None

    # -- polling -------------------------------------------------------------------------------------------------

    def poll(self):
        """Ask for the records from next_no on, write them; return True if more are waiting (poll again now).

        Raise LoggerError when the logger fails, OSError when the files or state cannot be written.
        """
        page = self._since(self.next_no)
        if self._sequence_changed(page.signature):
            return True
        before = self.state.last_record
        valid, problem = self._valid_prefix(page.records)
        if valid:
            self.empty_polls = 0
            lost = valid[0].no - self.next_no
            if lost > 0:
                log.warning(
                    "%s: records %d-%d were lost (older than the logger keeps)",
                    self.table,
                    self.next_no,
                    valid[0].no - 1,
                )
                if self.catchup is not None:
                    self.catchup["lost"] += lost
            self.write(valid)
        elif not page.records:
            self.empty_polls += 1
            if self.empty_polls in REGRESSION_CHECK_AFTER_EMPTY_POLLS or self.empty_polls % 60 == 0:
                self._check_regression(page.signature)
        if problem is not None:
            self._bad_record(problem)
        self._track_catchup(page, before)
        return page.more or (problem is not None and problem.no is not None and problem.no < self.next_no)

    def _valid_prefix(self, records):
        valid, expected_min = [], self.next_no
        for record in records:
            if record.problem:
                return valid, record
            if record.no < expected_min:
                return valid, dataclasses.replace(record, problem=f"record number {record.no} out of order")
            valid.append(record)
            expected_min = record.no + 1
        return valid, None

    def _bad_record(self, record):
        key = record.no if record.no is not None else ("after", self.state.last_record)
        attempts = self.bad_attempts.get(key, 0) + 1
        self.bad_attempts[key] = attempts
        if attempts == 1:
            log.warning(
                "%s: bad record in the logger's answer (%s): nothing written for it, asking again",
                self.table,
                record.problem,
            )
        if attempts >= BAD_RECORD_ATTEMPTS and record.no is not None and record.no >= self.next_no:
            log.error(
                "%s: record %d was bad %d times (%s): skipped, not written",
                self.table,
                record.no,
                attempts,
                record.problem,
            )
            self.state.last_record = record.no
            state_store.save(self.state_path, self.state)
            del self.bad_attempts[key]

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
        _signature, newest = self._newest_record()
        if newest is not None and newest.no < self.state.last_record:
            log.warning(
                "%s: record numbers went back from %d to %d (table reset?): a new record sequence, collected "
                "from the oldest record the logger holds",
                self.table,
                self.state.last_record,
                newest.no,
            )
            self._new_sequence(signature)

    def _new_sequence(self, signature):
        self.state.signature = signature
        self.state.last_record = -1
        self.bad_attempts.clear()
        self.backfill = None
        state_store.save(self.state_path, self.state)

    def _track_catchup(self, page, before):
        if page.more:
            if self.backfill is None:
                _signature, newest = self._newest_record()
                self.backfill = (before, newest.no if newest else self.state.last_record)
            return
        if page.records and not page.records[-1].problem:
            self.newest_known = page.records[-1].no
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
        """Append the rows of `records` (valid, in order, all new) to their daily files, then save the state.

        Raise OSError if a file or the state cannot be written; the state then covers exactly what is on disk.
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
                switched = dataclasses.replace(self.state, file=str(path), file_size=size)
                state_store.save(self.state_path, switched)
                self.state = switched
            size = self.appender.append(path, lines)
            last, chain, _flag = done[-1]
            self.state.last_record, self.state.file_size = last.no, size
            self.state.last_raw_gps, self.state.last_written_gps = chain
            for record, _chain, flag in done:
                self.episodes.observe(record.no, flag)
            self.last_time_text = last.time
            self.written_total += len(lines)
            if self.catchup is not None:
                self.catchup["recovered"] += len(lines)
            # Same file as the saved state: an older state coming back after a power cut is reconciled at start.
            state_store.save(self.state_path, self.state, sync_directory=False)

    def close(self):
        self.appender.close()
