"""Today's gap tally, kept up to date row by row with the rules of meso360.gaps (no re-read of the file)."""

import datetime as dt

from meso360 import gaps
from meso360.datafile import file_date

_DAY = 86400


class DayTally:
    """The rules of gaps.analyze_seconds applied one row at a time to one daily file.

    Distinct seconds of the file's date are marked in a 86 400-byte array (a set of ints would take
    megabytes); seconds outside that date (rare) go to a small set.
    """

    def __init__(self, path):
        self.report = gaps.GapReport(name=path.name)
        date = file_date(path)
        self.date = date
        self._midnight = (
            None if date is None else int(dt.datetime(date.year, date.month, date.day, tzinfo=dt.UTC).timestamp())
        )
        self._marks = bytearray(_DAY)
        self._other_seconds = set()
        self._first = self._last = self._previous = None

    def add(self, second):
        """Count one row with GPS time `second` (epoch seconds, None without fix)."""
        report = self.report
        report.rows += 1
        if second is None:
            report.rows_without_fix += 1
            return
        offset = -1 if self._midnight is None else second - self._midnight
        if 0 <= offset < _DAY:
            if not self._marks[offset]:
                self._marks[offset] = 1
                report.distinct_seconds += 1
        elif second not in self._other_seconds:
            self._other_seconds.add(second)
            report.distinct_seconds += 1
        if self._first is None or second < self._first:
            self._first = second
            report.first = dt.datetime.fromtimestamp(second, dt.UTC)
        if self._last is None or second > self._last:
            self._last = second
            report.last = dt.datetime.fromtimestamp(second, dt.UTC)
        previous = self._previous
        if previous is not None:
            delta = second - previous
            if delta == 0:
                report.duplicates += 1
            elif delta < 0:
                report.backward_jumps += 1
            elif delta >= gaps.GAP_MIN_SECONDS:
                report.gaps.append(
                    gaps.Gap(dt.datetime.fromtimestamp(previous, dt.UTC), dt.datetime.fromtimestamp(second, dt.UTC))
                )
        self._previous = second

    def summary(self, now=None):
        """Return {"date", "rows", "rows_without_fix", "completeness_pct", "gaps", "missing_s"}.

        Completeness counts the current outage too: its window ends at `now` (epoch seconds, the host
        clock) when that is later than the last row but still on the file's date.
        """
        report = self.report
        until = None
        if now is not None and self._midnight is not None:
            until = dt.datetime.fromtimestamp(min(now, self._midnight + _DAY - 1), dt.UTC)
        complete = gaps.completeness(report, until)
        return {
            "date": None if self.date is None else self.date.strftime("%Y%m%d"),
            "rows": report.rows,
            "rows_without_fix": report.rows_without_fix,
            "completeness_pct": None if complete.fraction is None else round(complete.fraction * 100, 2),
            "gaps": len(report.gaps),
            "missing_s": report.missing_seconds,
        }
