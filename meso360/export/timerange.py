"""The time range of an export: ISO 8601 UTC instants (or bare days) to epoch seconds, and the days it covers."""

import dataclasses
import datetime as dt
import re

_BARE_DAY_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ONE_DAY = dt.timedelta(days=1)


class TimeRangeError(ValueError):
    """A --from or --to that is not an ISO 8601 UTC time, or a range that ends before it starts."""


@dataclasses.dataclass(frozen=True)
class TimeRange:
    """Rows whose GPS time is from `start` to `end`, both included (aware UTC datetimes)."""

    start: dt.datetime
    end: dt.datetime

    @property
    def start_seconds(self):
        return int(self.start.timestamp())

    @property
    def end_seconds(self):
        return int(self.end.timestamp())

    def days(self):
        """Return the UTC dates from the start's to the end's, both included."""
        day, last = self.start.date(), self.end.date()
        dates = []
        while day <= last:
            dates.append(day)
            day += _ONE_DAY
        return dates


def parse_instant(text, *, end_of_day=False):
    """Given ISO 8601 text with a UTC offset (2026-11-30T00:00:00Z) or a bare day (2026-11-30), return an aware
    UTC datetime; a bare day is its 00:00:00, or its 23:59:59 with `end_of_day`. Raise TimeRangeError."""
    text = text.strip()
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise TimeRangeError(f"{text!r} is not an ISO 8601 time such as 2026-11-30T00:00:00Z") from None
    if _BARE_DAY_RE.match(text):
        day_start = when.replace(tzinfo=dt.UTC)
        return day_start + _ONE_DAY - dt.timedelta(seconds=1) if end_of_day else day_start
    if when.tzinfo is None:
        raise TimeRangeError(f"{text!r} has no time zone: give UTC, e.g. {text}Z")
    return when.astimezone(dt.UTC)


def parse_range(start_text, end_text):
    """Given the --from and --to texts, return a TimeRange. Raise TimeRangeError when either is bad or end < start."""
    time_range = TimeRange(parse_instant(start_text), parse_instant(end_text, end_of_day=True))
    if time_range.end < time_range.start:
        raise TimeRangeError(f"--to {end_text} is before --from {start_text}")
    return time_range


def utc_text(when):
    """Given an aware datetime, return it as ISO 8601 UTC with a Z (2026-11-30T00:00:00Z)."""
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
