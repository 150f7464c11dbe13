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
    """One observation: its id in this server, its time, GPS fix and the ten series values (None = missing)."""

    __slots__ = ("id", "ts", "fix", "values", "frame")

    def __init__(self, point_id, ts, fix, values):
        self.id = point_id
        self.ts = ts
        self.fix = fix
        self.values = values
        # The SSE frame is encoded once and written to every client.
        self.frame = f"id: {point_id}\nevent: obs\ndata: {json.dumps(self.as_dict(), separators=(',', ':'))}\n\n"

    def as_dict(self):
        point = {"id": self.id, "ts": self.ts, "fix": self.fix}
        point.update(zip(SERIES_KEYS, self.values, strict=True))
        return point


class RowReader:
    """Parse data file lines: GPS time as epoch seconds (None without fix) and the series values.

    Same rules as datafile.row_timestamp, but each date is parsed once: strptime per row would make
    reading a full day take seconds.
    """

    def __init__(self):
        self._midnights = {}

    def gps_seconds(self, row):
        """Given the 17 columns of a row, return its GPS time as epoch seconds, or None without a valid fix."""
        date_text, time_text = row[GPS_DATE_COLUMN], row[GPS_TIME_COLUMN]
        midnight = self._midnights.get(date_text, -1)
        if midnight == -1:
            when = parse_gps_datetime(date_text, "000000")
            midnight = None if when is None else int(when.timestamp())
            if len(self._midnights) > 1000:
                self._midnights.clear()
            self._midnights[date_text] = midnight
        if midnight is None or len(time_text) != 6 or not time_text.isdigit():
            return None
        hours, minutes, seconds = int(time_text[:2]), int(time_text[2:4]), int(time_text[4:])
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


def columnar(points):
    """Given Points, return the API's columnar dict {"id": [...], "ts": [...], "fix": [...], "t": [...], ...}."""
    columns = {"id": [p.id for p in points], "ts": [p.ts for p in points], "fix": [p.fix for p in points]}
    for index, key in enumerate(SERIES_KEYS):
        columns[key] = [p.values[index] for p in points]
    return columns
