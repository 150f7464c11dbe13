"""Gap analysis of daily observation files: gaps, size buckets, duplicates, rows without fix, completeness.

Shared by `meso360ctl gaps`/`status` and the web status API. Functions return data (dataclasses);
formatting lives with the callers. Files are read line by line (a day is 86 400 rows).

Definitions (1 Hz data, GPS time of each row):
- gap: two consecutive rows with a GPS fix whose times differ by >= GAP_MIN_SECONDS (2 s);
  missing seconds of a gap = delta - 1. Rows without a GPS fix are counted and skipped (the previous
  time is kept), so a stretch without fix shows up as one gap, as in the legacy report.
- duplicate: a row whose GPS second is already in an earlier row of the file, next to it or anywhere
  before (a re-collected stretch); never a gap. A second written three times counts 2 duplicates.
- backward jump: a row older than the previous row; counted, never a gap.
- completeness: distinct GPS seconds / seconds from the first to the last row (both inclusive), the one
  definition of `meso360ctl status` and `gaps`, /api/status and the panels. For a file without breaks it
  is 1.0; missing seconds of the window = span - distinct seconds. An outage still going on is not in it
  (it has no last row yet): the age of the newest row tells that.
"""

import dataclasses
import datetime as dt
import os

from meso360.datafile import OBS_COLUMN_COUNT, OBS_COLUMNS, RowReader

_DAY_SECONDS = 86400
GAP_MIN_SECONDS = 2
SECONDS_PER_DAY = 86400
# (label, largest delta in seconds, inclusive); the last bucket is open-ended.
HEADER_FIRST = OBS_COLUMNS[0]
BUCKETS = (("2-5s", 5), ("6-30s", 30), ("31-300s", 300), (">300s", None))
# (delta strictly greater than, note), first match wins.
NOTES = ((3600, "ops break?"), (300, "long outage"), (30, "moderate"))


@dataclasses.dataclass(frozen=True)
class Gap:
    """A break between two rows with a GPS fix: `start` is the last row before it, `end` the first after."""

    start: dt.datetime
    end: dt.datetime

    @property
    def delta_seconds(self):
        return int((self.end - self.start).total_seconds())

    @property
    def missing_seconds(self):
        return self.delta_seconds - 1

    @property
    def note(self):
        return gap_note(self.delta_seconds)

    def as_dict(self):
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "delta_s": self.delta_seconds,
            "missing_s": self.missing_seconds,
            "note": self.note,
        }


@dataclasses.dataclass(frozen=True)
class Bucket:
    label: str
    count: int
    missing_seconds: int


@dataclasses.dataclass
class GapReport:
    """What one data file holds: row counts, gaps, duplicates and the span of GPS times."""

    name: str
    rows: int = 0
    rows_without_fix: int = 0
    duplicates: int = 0
    backward_jumps: int = 0
    malformed_lines: int = 0
    distinct_seconds: int = 0
    first: dt.datetime | None = None
    last: dt.datetime | None = None
    gaps: list = dataclasses.field(default_factory=list)

    @property
    def missing_seconds(self):
        return sum(gap.missing_seconds for gap in self.gaps)

    @property
    def missing_fraction_of_day(self):
        return self.missing_seconds / SECONDS_PER_DAY

    @property
    def buckets(self):
        return bucket_gaps(self.gaps)

    def completeness(self):
        """Return the Completeness of this file (see the module docstring)."""
        return completeness(self)

    def as_dict(self):
        """Return a JSON-ready dict of the report (times as ISO 8601 UTC)."""
        return {
            "name": self.name,
            "rows": self.rows,
            "rows_without_fix": self.rows_without_fix,
            "duplicates": self.duplicates,
            "backward_jumps": self.backward_jumps,
            "malformed_lines": self.malformed_lines,
            "first": self.first.isoformat() if self.first else None,
            "last": self.last.isoformat() if self.last else None,
            "gap_count": len(self.gaps),
            "missing_s": self.missing_seconds,
            "missing_fraction_of_day": round(self.missing_fraction_of_day, 6),
            "buckets": [dataclasses.asdict(bucket) for bucket in self.buckets],
            "completeness": dataclasses.asdict(self.completeness()),
            "gaps": [gap.as_dict() for gap in self.gaps],
        }


@dataclasses.dataclass(frozen=True)
class Completeness:
    """distinct_seconds of span_seconds observed in [window_start, window_end]; fraction None without data."""

    distinct_seconds: int
    span_seconds: int
    fraction: float | None
    window_start: str | None
    window_end: str | None


def gap_note(delta_seconds):
    """Return the legacy note for a gap of `delta_seconds` ("" when short)."""
    for threshold, note in NOTES:
        if delta_seconds > threshold:
            return note
    return ""


def bucket_gaps(gaps):
    """Given gaps, return [Bucket] in size order; empty buckets are omitted."""
    counts = {label: [0, 0] for label, _ in BUCKETS}
    for gap in gaps:
        for label, largest in BUCKETS:
            if largest is None or gap.delta_seconds <= largest:
                counts[label][0] += 1
                counts[label][1] += gap.missing_seconds
                break
    return [Bucket(label, count, missing) for label, (count, missing) in counts.items() if count]


def analyze_timestamps(timestamps, name=""):
    """Given an iterable of row times (aware UTC datetimes, None for a row without fix), return a GapReport."""
    return analyze_seconds((None if when is None else int(when.timestamp()) for when in timestamps), name)


def analyze_seconds(seconds, name=""):
    """Given an iterable of row times as epoch seconds (None without fix), return a GapReport."""
    counter = GapCounter(name)
    for second in seconds:
        counter.add(second)
    return counter.report


class GapCounter:
    """The gap rules applied one row at a time; `report` is current after every add().

    With `day_start` (epoch seconds of the file's UTC midnight), the distinct seconds of that day are
    marked in a 86 400-byte array instead of a set of ints (megabytes for a day); others go to a set.
    """

    def __init__(self, name="", day_start=None):
        self.report = GapReport(name=name)
        self._day_start = day_start
        self._marks = bytearray(_DAY_SECONDS) if day_start is not None else None
        self._other_seconds = set()
        self._first = self._last = self._previous = None

    def _mark(self, second):
        """Record `second`; return True when no row had it before."""
        offset = -1 if self._marks is None else second - self._day_start
        if 0 <= offset < _DAY_SECONDS:
            if self._marks[offset]:
                return False
            self._marks[offset] = 1
            return True
        if second in self._other_seconds:
            return False
        self._other_seconds.add(second)
        return True

    def add(self, second):
        """Count one row with GPS time `second` (epoch seconds, None without fix)."""
        report = self.report
        report.rows += 1
        if second is None:
            report.rows_without_fix += 1
            return
        if self._mark(second):
            report.distinct_seconds += 1
        else:
            report.duplicates += 1
        if self._first is None or second < self._first:
            self._first = second
            report.first = _utc(second)
        if self._last is None or second > self._last:
            self._last = second
            report.last = _utc(second)
        previous = self._previous
        if previous is not None:
            delta = second - previous
            if delta < 0:
                report.backward_jumps += 1
            elif delta >= GAP_MIN_SECONDS:
                report.gaps.append(Gap(_utc(previous), _utc(second)))
        self._previous = second


def _utc(epoch_seconds):
    return dt.datetime.fromtimestamp(epoch_seconds, dt.UTC)


class _LineTimes:
    """Turn data file lines into epoch seconds (None without fix) by datafile.RowReader, counting malformed lines."""

    def __init__(self):
        self.malformed = 0
        self._reader = RowReader()

    def seconds(self, lines):
        for line in lines:
            fields = line.rstrip("\r\n").split(",")
            if len(fields) != OBS_COLUMN_COUNT or fields[0] == HEADER_FIRST:
                if line.strip():
                    self.malformed += fields[0] != HEADER_FIRST
                continue
            yield self._reader.gps_seconds(fields)


def analyze_file(path):
    """Given a data file path, return its GapReport, reading it line by line. Raise OSError if unreadable."""
    times = _LineTimes()
    with open(path, encoding="utf-8", errors="replace") as lines:
        report = analyze_seconds(times.seconds(lines), name=os.path.basename(path))
    report.malformed_lines = times.malformed
    return report


def completeness(report):
    """Given a GapReport, return its Completeness: distinct GPS seconds / seconds from its first to its last row."""
    if report.first is None:
        return Completeness(0, 0, None, None, None)
    span = int((report.last - report.first).total_seconds()) + 1
    fraction = min(1.0, report.distinct_seconds / span)
    return Completeness(report.distinct_seconds, span, fraction, report.first.isoformat(), report.last.isoformat())


def completeness_pct(report):
    """Given a GapReport, return its completeness in percent rounded to 0.01 (None without a row with a fix)."""
    fraction = completeness(report).fraction
    return None if fraction is None else round(fraction * 100, 2)
