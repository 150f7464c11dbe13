"""Find records on the logger: the one a row on disk came from, or the first one stamped after a given time."""

from meso360 import datafile
from meso360.ingest.appender import repair_torn_tail

LAST_ROWS_READ_BYTES = 65536  # the tail of a file read to find its last rows
ESTIMATE_MARGIN_RECORDS = 60  # a search by time starts this far before the record number estimated from it
STEP_BACK_RECORDS = 600  # first step back when an estimate was too late (doubled each time)


def last_rows_on_disk(fmt, path=None):
    """Return (file, its last data lines, oldest first) of `path` or else of the newest file with data lines.

    A torn last line is repaired first (it is not a row). Return (None, []) when there is no data row on disk.
    """
    paths = [path] if path is not None else list(reversed(fmt.files()))
    for candidate in paths:
        if not candidate.exists():
            continue
        repair_torn_tail(candidate)
        lines, _ = datafile.read_complete_lines(candidate, max(0, candidate.stat().st_size - LAST_ROWS_READ_BYTES))
        data_lines = [line for line in lines[1:] if line and line != fmt.header]
        if data_lines:
            return candidate, data_lines
    return None, []


def last_row_time(fmt, lines):
    """Return the time of the last row of `lines` that has one (a row without GPS fix has none), or None."""
    for line in reversed(lines):
        when = fmt.line_time(line)
        if when is not None:
            return when
    return None


def record_of_line(source, fmt, line, newest):
    """Return the logger record whose plain line is `line` (latest match), searching near its time first."""
    starts = [0]
    target, newest_time = fmt.line_time(line), fmt.record_time(newest)
    if target and newest_time:
        estimate = newest.no - int((newest_time - target).total_seconds())
        starts.insert(0, max(0, estimate - ESTIMATE_MARGIN_RECORDS))
    for first in starts:
        found, since = None, first
        while True:
            page = source.since(since)
            for record in page.records:
                if not record.problem and fmt.plain_line(record) == line:
                    found = record
            if found is not None or not page.more or not page.records:
                break
            if since == first and first > 0:
                break  # the estimate missed: scan everything from the oldest
            since = page.records[-1].no + 1
        if found is not None:
            return found
    return None


def oldest_record_no(source):
    """Return the number of the oldest record the logger holds, or None when its table is empty."""
    page = source.since(0)
    return page.records[0].no if page.records else None


def first_record_after(source, fmt, newest, is_before, target):
    """Return the number of the first record after the last one the logger holds stamped `is_before(time)`
    (the oldest held when none is), scanning from a start estimated from `target` (a time near the boundary).

    Records without a time (no GPS fix) follow the timed record before them. Return newest.no + 1 when every
    record is before.
    """
    start = _start_before(source, fmt, newest, is_before, target)
    answer, since = None, start
    while True:
        page = source.since(since)
        for record in page.records:
            if answer is None:
                answer = record.no
            when = None if record.problem else fmt.record_time(record)
            if when is None:
                continue
            if not is_before(when):
                return answer
            answer = record.no + 1
        if not page.more or not page.records:
            return newest.no + 1 if answer is None else answer
        since = page.records[-1].no + 1


def _start_before(source, fmt, newest, is_before, target):
    """Return a record number at or before the boundary: a page from it begins with a record stamped before, or at
    the oldest record held."""
    newest_time = fmt.record_time(newest)
    if newest_time is None or target is None:
        return 0
    start = max(0, newest.no - int((newest_time - target).total_seconds()) - ESTIMATE_MARGIN_RECORDS)
    step = STEP_BACK_RECORDS
    while start > 0:
        page = source.since(start)
        if not page.records or page.records[0].no > start:
            return start  # older than the oldest held: the page begins at the oldest
        timed = (fmt.record_time(r) for r in page.records if not r.problem)
        first_time = next((when for when in timed if when is not None), None)
        if first_time is not None and is_before(first_time):
            return start
        start, step = max(0, start - step), step * 2
    return 0
