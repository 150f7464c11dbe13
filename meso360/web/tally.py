"""Today's gap tally, kept up to date row by row with the rules of meso360.gaps (no re-read of the file)."""

import datetime as dt

from meso360 import gaps
from meso360.datafile import file_date


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
        # The gaps' missing seconds, added up as gaps come (the panel asks every second: no sum over all of them)
        self._missing_seconds = 0
        self._gaps_counted = 0

    def add(self, second):
        """Count one row with GPS time `second` (epoch seconds, None without fix)."""
        self._counter.add(second)
        gaps_now = self.report.gaps
        if len(gaps_now) > self._gaps_counted:
            self._missing_seconds += sum(gap.missing_seconds for gap in gaps_now[self._gaps_counted :])
            self._gaps_counted = len(gaps_now)

    def summary(self, now=None):
        """Return {"date", "rows", "rows_without_fix", "completeness_pct", "gaps", "missing_s", "duplicates"}.

        Completeness is gaps.completeness_pct, first row to last row, as `meso360ctl status` reports it
        (`now` is not used: an outage going on shows in the newest row's age and in the alarms).
        """
        report = self.report
        return {
            "date": None if self.date is None else self.date.strftime("%Y%m%d"),
            "rows": report.rows,
            "rows_without_fix": report.rows_without_fix,
            "completeness_pct": gaps.completeness_pct(report),
            "gaps": len(report.gaps),
            "missing_s": self._missing_seconds,
            "duplicates": report.duplicates,
        }
