"""Today's gap tally, kept up to date row by row with the rules of meso360.gaps (no re-read of the file)."""

import datetime as dt

from meso360 import gaps
from meso360.datafile import file_date

_DAY = 86400


class DayTally:
    """Today's gaps and completeness, one row at a time (gaps.GapCounter), for one daily file."""

    def __init__(self, path):
        date = file_date(path)
        self.date = date
        self._midnight = (
            None if date is None else int(dt.datetime(date.year, date.month, date.day, tzinfo=dt.UTC).timestamp())
        )
        self._counter = gaps.GapCounter(name=path.name, day_start=self._midnight)
        self.report = self._counter.report

    def add(self, second):
        """Count one row with GPS time `second` (epoch seconds, None without fix)."""
        self._counter.add(second)

    def summary(self, now=None):
        """Return {"date", "rows", "rows_without_fix", "completeness_pct", "gaps", "missing_s", "duplicates"}.

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
            "duplicates": report.duplicates,
        }
