"""The newest daily files for meso360ctl: today's (or the newest) file, its last lines, the newest observation."""

import dataclasses
import datetime as dt
import os
import re
from pathlib import Path

from meso360.datafile import (
    OBS_COLUMNS,
    daily_files,
    last_complete_lines,
    number_or_none,
    parse_obs_line,
    row_timestamp,
)
from meso360.systemd_units import utc_iso

_SUPPORT_FILE_RE = re.compile(r"^\d{8}_support\.txt$")


def last_lines(path, count, end=None):
    """Return the last `count` complete lines of `path` before byte `end` (default: the end of the file)."""
    return last_complete_lines(path, count, end)[0]


def complete_size(path):
    """Return the byte offset just after the last complete line of `path` (where following starts)."""
    return last_complete_lines(path, 0)[1]


def support_files(support_dir):
    """Return the YYYYMMDD_support.txt files of `support_dir`, oldest first."""
    try:
        names = sorted(os.listdir(support_dir))
    except FileNotFoundError:
        return []
    return [Path(support_dir) / name for name in names if _SUPPORT_FILE_RE.match(name)]


def today_or_newest(files, today_name):
    """Given the daily files oldest first, return (path, note): today's file, else the newest with a note.

    Return (None, None) when there is no file at all.
    """
    for path in files:
        if path.name == today_name:
            return path, None
    if not files:
        return None, None
    return files[-1], f"no file for today ({today_name}); using the newest, {files[-1].name}"


def utc_today_name(now=None, suffix=".txt"):
    now = now or dt.datetime.now(dt.UTC)
    return f"{now:%Y%m%d}{suffix}"


@dataclasses.dataclass(frozen=True)
class Observation:
    """The newest row of the data files, with the values the operators look at."""

    file: str
    gps_time: dt.datetime | None
    age_seconds: float
    age_source: str
    t_fast_c: float | None
    dewpoint_c: float | None
    pressure_hpa: float | None
    wind_speed_ms: float | None
    wind_dir_deg: float | None

    def as_dict(self):
        values = dataclasses.asdict(self)
        values["gps_time"] = utc_iso(self.gps_time.timestamp()) if self.gps_time else None
        values["age_seconds"] = round(self.age_seconds, 1)
        return values


def newest_observation(data_dir, now=None):
    """Return the Observation of the newest file's last complete row, or None when there is none.

    Age is now minus the row's GPS time; without a fix, now minus the file's modification time.
    """
    now = now or dt.datetime.now(dt.UTC)
    for path in reversed(daily_files(data_dir)):
        row = next((parsed for parsed in map(parse_obs_line, reversed(last_lines(path, 5))) if parsed), None)
        if row is None:
            continue
        values = dict(zip(OBS_COLUMNS, row, strict=True))
        when = row_timestamp(row)
        if when is not None:
            age, source = (now - when).total_seconds(), "gps"
        else:
            age, source = now.timestamp() - path.stat().st_mtime, "file modification time (no GPS fix)"
        return Observation(
            file=str(path),
            gps_time=when,
            age_seconds=age,
            age_source=source,
            t_fast_c=number_or_none(values["t_fast"]),
            dewpoint_c=number_or_none(values["dewpoint"]),
            pressure_hpa=number_or_none(values["pressure"]),
            wind_speed_ms=number_or_none(values["sfc_wspd"]),
            wind_dir_deg=number_or_none(values["sfc_wdir"]),
        )
    return None
