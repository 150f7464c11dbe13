"""Where collection of a table resumes: crash-window reconciliation with the state, a state that disagrees with the
logger or the files, or a start without state. The rows on disk are the truth: never written twice, and nothing the
logger still holds after them is declared lost.

Every function takes the table's record source (protocol.Protocol), its row format (ObsFormat or SupportFormat) and
`now`, the UTC clock; what they decide is returned as a TableState (or written into the one given).
"""

import logging
from pathlib import Path

from meso360 import datafile
from meso360.ingest import locate
from meso360.ingest.appender import repair_torn_tail
from meso360.ingest.state import TableState

FIRST_START_CHOICES = ("newest", "today", "all")

log = logging.getLogger(__name__)


def reconcile(source, fmt, now, saved):
    """Repair a torn last line and skip the rows already written after the saved state (the crash window)."""
    if not saved.file:
        return
    path = Path(saved.file)
    removed = repair_torn_tail(path)
    if removed:
        log.warning("%s: removed a torn last line of %d bytes from %s (power cut?)", source.table, removed, path)
    size = path.stat().st_size if path.exists() else 0
    if size < saved.file_size:
        log.warning(
            "%s: %s is shorter (%d bytes) than recorded in the state (%d): rows written before the stop are gone "
            "from the disk; resuming after its last complete row",
            source.table,
            path,
            size,
            saved.file_size,
        )
        _resume_after_shorter_file(source, fmt, now, saved, path)
        size = path.stat().st_size if path.exists() else 0
    elif size > saved.file_size:
        extra, end = datafile.read_complete_lines(path, saved.file_size)
        matched = _match_extra_lines(source, fmt, now, saved, extra)
        if matched == len(extra):
            log.info(
                "%s: %d rows written just before the stop are already in %s; not written again",
                source.table,
                matched,
                path,
            )
        elif matched == 0 and _resume_after_line(source, fmt, now, saved, extra[-1]):
            log.warning(
                "%s: the logger no longer holds the first of the %d rows written after the saved state; the "
                "last of them is record %d: resuming after it (those rows are not written again)",
                source.table,
                len(extra),
                saved.last_record,
            )
        else:
            log.warning(
                "%s: %s has %d rows after the saved state, %d of them match the next records; the others "
                "are kept as they are",
                source.table,
                path,
                len(extra),
                matched,
            )
        size = end
    saved.file_size = size


def _match_extra_lines(source, fmt, now, saved, extra):
    """Advance `saved` over the records whose lines are the `extra` lines already in its file; return how many."""
    matched, chain = 0, (saved.last_raw_gps, saved.last_written_gps)
    while matched < len(extra):
        page = source.since(saved.last_record + 1)
        if None not in (saved.signature, page.signature) and saved.signature != page.signature:
            return matched
        if not page.records:
            return matched
        for record in page.records:
            if record.problem or record.no != saved.last_record + 1 or matched >= len(extra):
                return matched
            path, line, chain, _flag = fmt.format(record, chain, now())
            if line != extra[matched] or str(path) != saved.file:
                return matched
            matched += 1
            saved.last_record, (saved.last_raw_gps, saved.last_written_gps) = record.no, chain
        if not page.more:
            return matched
    return matched


def _resume_after_line(source, fmt, now, saved, line):
    """Advance `saved` to the record whose row is `line` when the logger still holds it (same signature,
    after the saved record); return whether it did. For a stop long enough that the logger dropped the
    records right after the saved one, but not the last one written."""
    signature, newest = source.newest()
    if newest is None or (None not in (saved.signature, signature) and saved.signature != signature):
        return False
    found = locate.record_of_line(source, fmt, line, newest)
    if found is None or found.no <= saved.last_record:
        return False
    saved.last_record = found.no
    saved.last_raw_gps, saved.last_written_gps = fmt.chain_after(found, line)
    return True


def _resume_after_shorter_file(source, fmt, now, saved, path):
    """The state's file lost its tail (a disk that lost writes): move `saved` back to the last row on disk."""
    signature, newest = source.newest()
    if newest is None or (None not in (saved.signature, signature) and saved.signature != signature):
        return  # a new sequence anyway: the first poll finds it
    # The state's file first; when it has no row left (or is gone), the newest file with rows.
    state = from_disk(source, fmt, now, signature, newest, path) or from_disk(source, fmt, now, signature, newest)
    if state is None:
        state = TableState(signature, locate.oldest_record_no(source) - 1)
    if state.last_record < saved.last_record:
        log.warning(
            "%s: records %d-%d are collected again (their rows are not on the disk)",
            source.table,
            state.last_record + 1,
            saved.last_record,
        )
        saved.last_record, saved.last_raw_gps, saved.last_written_gps = (
            state.last_record,
            state.last_raw_gps,
            state.last_written_gps,
        )


def check_against_logger(source, fmt, now, saved):
    """Return the state to resume from: `saved`, unless it disagrees with the logger (a record number ahead of the
    logger's newest, or another signature while the logger holds the last row on disk); then the rows on disk
    decide, so no record already there is written again.
    """
    signature, newest = source.newest()
    if newest is None:
        return saved
    if None not in (saved.signature, signature) and saved.signature != signature:
        state = from_disk(source, fmt, now, signature, newest, found_only=True)
        if state is None:
            return saved  # a program recompiled while stopped: the first poll starts the new sequence
        log.warning(
            "%s: the state's signature %s is not the logger's %s, but the logger holds the last row on disk: "
            "the state is wrong; resuming after that row",
            source.table,
            saved.signature,
            signature,
        )
        return state
    if saved.last_record <= newest.no:
        return saved
    log.warning(
        "%s: the state says record %d was written last, but the logger's newest is %d (same signature): the state "
        "disagrees with the logger; the rows on disk decide where to resume",
        source.table,
        saved.last_record,
        newest.no,
    )
    return after_regression(source, fmt, now, signature, newest)


def after_regression(source, fmt, now, signature, newest):
    """Return the state to resume from when record numbers went back: after the last row on disk when the logger
    holds it or newer records, else a new sequence from the oldest record the logger holds.
    """
    state = from_disk(source, fmt, now, signature, newest)
    if state is not None:
        return state
    log.warning(
        "%s: a new record sequence, collected from the oldest record the logger holds (no row of it is on disk)",
        source.table,
    )
    return TableState(signature=signature, last_record=locate.oldest_record_no(source) - 1)


def from_disk(source, fmt, now, signature, newest, path=None, found_only=False, context=""):
    """Return the state after the last row on disk (of `path`, else of the newest file): after its record when the
    logger still holds it, else (unless found_only) after the records stamped up to its time. None without rows.
    """
    path, lines = locate.last_rows_on_disk(fmt, path)
    if not lines:
        return None
    size = path.stat().st_size
    found = locate.record_of_line(source, fmt, lines[-1], newest)
    if found is not None:
        log.info("%s: %sthe last row of %s is record %d; resuming after it", source.table, context, path, found.no)
        raw_gps, written_gps = fmt.chain_after(found, lines[-1])
        return TableState(signature, found.no, raw_gps, written_gps, str(path), size)
    if found_only:
        return None
    when = locate.last_row_time(fmt, lines)
    if when is None:
        first = locate.oldest_record_no(source)
        log.warning(
            "%s: the last rows of %s have no time and are not among the records the logger holds: collecting from "
            "the oldest record it holds, %d",
            source.table,
            path,
            first,
        )
    else:
        first = locate.first_record_after(source, fmt, newest, lambda stamped: stamped <= when, when)
        log.warning(
            "%s: the last row of %s (%sZ) is not among the records the logger holds: resuming at record %d, the "
            "first one stamped after it",
            source.table,
            path,
            when.strftime("%Y-%m-%d %H:%M:%S"),
            first,
        )
    return TableState(signature, first - 1, None, None, str(path), size)


def decide_without_state(source, fmt, now, first_start):
    """Return where to start without state: after the last row on disk (see from_disk), or on a first start (no
    data files) as [ingest] first_start says.
    """
    signature, newest = source.newest()
    if newest is None:
        log.info("%s: no state and the logger table is empty: collecting from its first record", source.table)
        return TableState(signature=signature, last_record=-1)
    state = from_disk(source, fmt, now, signature, newest, context="no state: ")
    if state is not None:
        return state
    return TableState(signature=signature, last_record=_first_start_record(source, fmt, now, newest, first_start) - 1)


def _first_start_record(source, fmt, now, newest, choice):
    if not source.current.backfills and choice != "newest":
        # lastrecords.html holds a few records only: older ones would be declared lost at the first poll.
        choice = "newest (the legacy protocol cannot backfill)"
    if choice == "all":
        first = locate.oldest_record_no(source)
        what = "the oldest record the logger holds"
    elif choice == "today":
        # Today by the logger's newest record (GPS time): the vehicle computer's clock may be wrong when offline.
        now = fmt.record_time(newest) or now()
        midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
        first = locate.first_record_after(source, fmt, newest, lambda stamped: stamped < midnight, midnight)
        what = f"the first record of its current day ({midnight:%Y-%m-%d} UTC) the logger holds"
    else:
        first = newest.no
        what = "the newest record"
    log.info(
        "%s: first start (no state, no data files): collecting from %s, record %d ([ingest] first_start = %s)",
        source.table,
        what,
        first,
        choice,
    )
    return first
