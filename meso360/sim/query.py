"""DataQuery record selection: which records each mode answers, and paging with the `more` flag."""

import calendar
import datetime as dt

MODES = ("most-recent", "since-time", "since-record", "date-range", "backfill")


class QueryError(ValueError):
    """A DataQuery parameter the logger cannot interpret."""


def parse_logger_time(text):
    """Parse a logger time parameter (YYYY-MM-DD[THH:MM[:SS[.fff]]], logger local time = UTC here) to seconds."""
    text = text.strip().replace(" ", "T")
    for pattern in ("%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d"):
        try:
            parsed = dt.datetime.strptime(text, pattern)  # noqa: DTZ007  read as UTC by calendar.timegm below
        except ValueError:
            continue
        return calendar.timegm(parsed.timetuple()) + parsed.microsecond / 1e6
    raise QueryError(f"bad time {text!r}")


def _integer(text, name):
    try:
        return int(float(text))
    except (TypeError, ValueError):
        raise QueryError(f"{name} must be a number, got {text!r}") from None


def select(records, mode, p1, p2, clock_seconds):
    """Given the table (oldest first), return the records a DataQuery `mode` with p1/p2 answers, oldest first.

    since-record: records numbered >= p1 (p1 is the first record wanted). If p1 is older than the oldest record
    held, answer from the oldest (the documented logger behaviour); if p1 is newer than the newest, answer nothing.
    date-range is half-open [p1, p2). backfill answers records stamped at or after clock - p1 seconds.
    Raise QueryError for an unknown mode or a bad parameter.
    """
    if mode == "most-recent":
        count = _integer(p1 if p1 is not None else "1", "p1")
        return records[-count:] if count > 0 else []
    if mode == "since-record":
        first = _integer(p1, "p1")
        return [r for r in records if r.no >= first]
    if mode == "since-time":
        start = parse_logger_time(p1 or "")
        return [r for r in records if r.seconds >= start]
    if mode == "date-range":
        start, end = parse_logger_time(p1 or ""), parse_logger_time(p2 or "")
        return [r for r in records if start <= r.seconds < end]
    if mode == "backfill":
        start = clock_seconds - _integer(p1, "p1")
        return [r for r in records if r.seconds >= start]
    raise QueryError(f"unknown mode {mode!r}; known: {', '.join(MODES)}")


def page(selected, page_size):
    """Return (first page of `selected`, more) where more says records remain after the page."""
    return selected[:page_size], len(selected) > page_size
