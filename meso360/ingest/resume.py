"""Where collection of a table resumes: crash-window reconciliation with the state, or a start without state."""

import logging
from pathlib import Path

from meso360 import datafile
from meso360.ingest.state import TableState

log = logging.getLogger(__name__)


def reconcile(collector, saved):
    """Repair a torn last line and skip the rows already written after the saved state (the crash window)."""
    if not saved.file:
        return
    path = Path(saved.file)
    removed = datafile.repair_torn_tail(path)
    if removed:
        log.warning("%s: removed a torn last line of %d bytes from %s (power cut?)", collector.table, removed, path)
    size = path.stat().st_size if path.exists() else 0
    if size < saved.file_size:
        log.warning("%s: %s is shorter (%d bytes) than recorded (%d)", collector.table, path, size, saved.file_size)
    elif size > saved.file_size:
        extra, end = datafile.read_complete_lines(path, saved.file_size)
        matched = _match_extra_lines(collector, saved, extra)
        if matched == len(extra):
            log.info(
                "%s: %d rows written just before the stop are already in %s; not written again",
                collector.table,
                matched,
                path,
            )
        elif matched == 0 and _resume_after_line(collector, saved, extra[-1]):
            log.warning(
                "%s: the logger no longer holds the first of the %d rows written after the saved state; the "
                "last of them is record %d: resuming after it (those rows are not written again)",
                collector.table,
                len(extra),
                saved.last_record,
            )
        else:
            log.warning(
                "%s: %s has %d rows after the saved state, %d of them match the next records; the others "
                "are kept as they are",
                collector.table,
                path,
                len(extra),
                matched,
            )
        size = end
    saved.file_size = size


def _match_extra_lines(collector, saved, extra):
    """Advance `saved` over the records whose lines are the `extra` lines already in its file; return how many."""
    matched, chain = 0, (saved.last_raw_gps, saved.last_written_gps)
    while matched < len(extra):
        page = collector.since(saved.last_record + 1)
        if None not in (saved.signature, page.signature) and saved.signature != page.signature:
            return matched
        if not page.records:
            return matched
        for record in page.records:
            if record.problem or record.no != saved.last_record + 1 or matched >= len(extra):
                return matched
            path, line, chain, _flag = collector.fmt.format(record, chain, collector.now())
            if line != extra[matched] or str(path) != saved.file:
                return matched
            matched += 1
            saved.last_record, (saved.last_raw_gps, saved.last_written_gps) = record.no, chain
        if not page.more:
            return matched
    return matched


def _resume_after_line(collector, saved, line):
    """Advance `saved` to the record whose row is `line` when the logger still holds it (same signature,
    after the saved record); return whether it did. For a stop long enough that the logger dropped the
    records right after the saved one, but not the last one written."""
    signature, newest = collector.newest_record()
    if newest is None or (None not in (saved.signature, signature) and saved.signature != signature):
        return False
    found = _find_record_of_line(collector, line, newest)
    if found is None or found.no <= saved.last_record:
        return False
    saved.last_record = found.no
    saved.last_raw_gps, saved.last_written_gps = collector.fmt.chain_after(found, line)
    return True


def decide_without_state(collector):
    """Return where to start without state: after the last row on disk when the logger still holds it."""
    signature, newest = collector.newest_record()
    if newest is None:
        log.info("%s: no state and the logger table is empty: collecting from its first record", collector.table)
        return TableState(signature=signature, last_record=-1)
    path, line = _last_line_on_disk(collector)
    if line is None:
        log.info("%s: no state and no data files: starting at the newest record %d", collector.table, newest.no)
        return TableState(signature=signature, last_record=newest.no - 1)
    found = _find_record_of_line(collector, line, newest)
    if found is None:
        log.warning(
            "%s: no state, and the last row of %s is not among the records the logger holds: starting at "
            "the newest record %d (older records not collected)",
            collector.table,
            path,
            newest.no,
        )
        return TableState(signature=signature, last_record=newest.no - 1)
    log.info("%s: no state: the last row of %s is record %d; resuming after it", collector.table, path, found.no)
    raw_gps, written_gps = collector.fmt.chain_after(found, line)
    return TableState(signature, found.no, raw_gps, written_gps, str(path), path.stat().st_size)


def _last_line_on_disk(collector):
    for path in reversed(collector.fmt.files()):
        datafile.repair_torn_tail(path)
        lines, _ = datafile.read_complete_lines(path, max(0, path.stat().st_size - 65536))
        data_lines = [line for line in lines if line and line != collector.fmt.header]
        if data_lines:
            return path, data_lines[-1]
    return None, None


def _find_record_of_line(collector, line, newest):
    """Return the logger record whose plain line is `line` (latest match), searching near its time first."""
    starts = [0]
    target, newest_time = collector.fmt.line_time(line), collector.fmt.record_time(newest)
    if target and newest_time:
        estimate = newest.no - int((newest_time - target).total_seconds())
        starts.insert(0, max(0, estimate - 60))
    for first in starts:
        found, since = None, first
        while True:
            page = collector.since(since)
            for record in page.records:
                if not record.problem and collector.fmt.plain_line(record) == line:
                    found = record
            if found is not None or not page.more or not page.records:
                break
            if since == first and first > 0:
                break  # the estimate missed: scan everything from the oldest
            since = page.records[-1].no + 1
        if found is not None:
            return found
    return None
