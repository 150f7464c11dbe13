"""Observation points as the web API sends them: one row of a data file -> a Point, and columnar JSON."""

import json

from meso360.datafile import OBS_COLUMNS, number_or_none

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


def series_values(row):
    """Given the 17 columns of a row, return the ten series values in SERIES order (None = missing)."""
    return [number_or_none(row[index], infinity_is_missing=True) for index in SERIES_INDEXES]
