"""Observation points as the web API sends them: one row of a data file -> a Point, and columnar JSON."""

import json
import math

from meso360.datafile import GPS_DATE_COLUMN, GPS_TIME_COLUMN, OBS_COLUMNS, parse_gps_datetime, parse_obs_line

# API key -> data file column, in the order the API lists them.
SERIES = (
    ("t", "t_fast"),
    ("td", "dewpoint"),
    ("wspd", "sfc_wspd"),
    ("wdir", "sfc_wdir"),
    ("pressure", "pressure"),
    ("compass_dir", "compass_dir"),
    ("lat", "lat"),
    ("lon", "lon"),
    ("alt", "gps_alt"),
    ("rh", "der_rh"),
)
SERIES_KEYS = tuple(key for key, _column in SERIES)
SERIES_INDEXES = tuple(OBS_COLUMNS.index(column) for _key, column in SERIES)
POINT_KEYS = ("id", "ts", "fix") + SERIES_KEYS


def number_or_none(text):
    """Given a CSV cell, return it as a finite float, or None for nan, inf, empty or garbage."""
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


class Point:
    """One observation as sent: its SSE frame, encoded once (the history's columns are cut from it too).

    Nothing else is kept per point: a full window is 7200+ points and the daemon should stay small.
    """

    __slots__ = ("id", "ts", "frame")

    def __init__(self, point_id, ts, fix, values):
        self.id = point_id
        self.ts = ts
        document = {"id": point_id, "ts": ts, "fix": fix}
        document.update(zip(SERIES_KEYS, values, strict=True))
        self.frame = f"id: {point_id}\nevent: obs\ndata: {json.dumps(document, separators=(',', ':'))}\n\n"

    def as_dict(self):
        return json.loads(self.frame.split("data: ", 1)[1])


class RowReader:
    """Parse data file lines: GPS time as epoch seconds (None without fix) and the series values.

    Same rules as datafile.row_timestamp, but each date is parsed once: strptime per row would make
    reading a full day take seconds.
    """

    def __init__(self):
        self._midnights = {}

    def gps_seconds(self, row):
        """Given the 17 columns of a row, return its GPS time as epoch seconds, or None without a valid fix."""
        return self.gps_seconds_of(row[GPS_DATE_COLUMN], row[GPS_TIME_COLUMN])

    def gps_seconds_of(self, date_text, time_text):
        """Given DDMMYY and HHMMSS cells, return epoch seconds, or None when not a valid time."""
        midnight = self._midnights.get(date_text, -1)
        if midnight == -1:
            when = parse_gps_datetime(date_text, "000000")
            midnight = None if when is None else int(when.timestamp())
            if len(self._midnights) > 1000:
                self._midnights.clear()
            self._midnights[date_text] = midnight
        if midnight is None or len(time_text) != 6 or not time_text.isdigit():
            return None
        hours, rest = divmod(int(time_text), 10000)
        minutes, seconds = divmod(rest, 100)
        if hours > 23 or minutes > 59 or seconds > 59:
            return None
        return midnight + hours * 3600 + minutes * 60 + seconds

    def parse(self, line):
        """Given a data file line, return (gps_epoch_seconds or None, row), or None for the header or a bad line."""
        row = parse_obs_line(line)
        if row is None:
            return None
        return self.gps_seconds(row), row


def series_values(row):
    """Given the 17 columns of a row, return the ten series values in SERIES order (None = missing)."""
    return [number_or_none(row[index]) for index in SERIES_INDEXES]
