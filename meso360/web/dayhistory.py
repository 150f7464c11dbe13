"""Any stored day as chart data: read a daily file and downsample it per series, keeping minima and maxima."""

import collections
import gzip
import json
import math
import os
import re
import threading

from meso360.datafile import OBS_COLUMNS, daily_files
from meso360.web.points import SERIES_INDEXES, SERIES_KEYS, RowReader, number_or_none

DAY_RE = re.compile(r"^\d{8}$")
DEFAULT_POINTS = 2000
MAX_POINTS = 20000
MIN_POINTS = 10
CACHE_ENTRIES = 8
_FIELD_COUNT = len(OBS_COLUMNS)
_NAN = float("nan")


def list_days(data_dir):
    """Return the YYYYMMDD of every daily file in `data_dir`, newest first."""
    return [path.name[:8] for path in reversed(daily_files(data_dir))]


def _column_floats(texts):
    """Given the cells of one column, return floats with nan for anything missing, non-finite or garbage."""
    try:
        values = [float(text) for text in texts]
    except ValueError:
        values = [number_or_none(text) for text in texts]
        return [_NAN if value is None else value for value in values]
    return [value if math.isfinite(value) else _NAN for value in values]


def read_day(path):
    """Given a daily file, return (ts list, fix list, {series key: float list}) sorted by time.

    Rows without GPS fix are placed 1 s after the previous row (dropped before the first timed row).
    """
    rows = RowReader()
    stamps, fixes, cells = [], [], []
    previous = None
    with open(path, encoding="utf-8", errors="replace") as lines:
        for line in lines:
            fields = line.rstrip("\r\n").split(",")
            if len(fields) != _FIELD_COUNT or fields[0] == OBS_COLUMNS[0]:
                continue
            second = rows.gps_seconds(fields)
            fix = second is not None
            if not fix:
                if previous is None:
                    continue
                second = previous + 1
            previous = second
            stamps.append(second)
            fixes.append(fix)
            cells.append(fields)
    order = sorted(range(len(stamps)), key=stamps.__getitem__)
    if any(order[i] != i for i in range(len(order))):
        stamps = [stamps[i] for i in order]
        fixes = [fixes[i] for i in order]
        cells = [cells[i] for i in order]
    pairs = zip(SERIES_KEYS, SERIES_INDEXES, strict=True)
    series = {key: _column_floats([row[index] for row in cells]) for key, index in pairs}
    return stamps, fixes, series


def _bucket_extremes(values, start, end):
    """Return (first, second) extremes of values[start:end] in time order, or (None, None) when all nan."""
    part = [value for value in values[start:end] if value == value]
    if not part:
        return None, None
    low, high = min(part), max(part)
    window = values[start:end]
    low_at, high_at = window.index(low), window.index(high)
    return (low, high) if low_at <= high_at else (high, low)


def downsample(stamps, fixes, series, max_points):
    """Return the columnar points: all rows when they fit, else 2 per bucket (each series' min and max)."""
    total = len(stamps)
    if total <= max_points:
        columns = {"id": list(range(total)), "ts": stamps, "fix": fixes}
        for key, values in series.items():
            columns[key] = [value if value == value else None for value in values]
        return columns
    buckets = max_points // 2
    size = math.ceil(total / buckets)
    columns = {"id": [], "ts": [], "fix": []}
    for key in series:
        columns[key] = []
    for start in range(0, total, size):
        end = min(start + size, total)
        last = end - 1
        rows = (start, last) if last > start else (start,)
        for row in rows:
            columns["id"].append(row)
            columns["ts"].append(stamps[row])
            columns["fix"].append(fixes[row])
        for key, values in series.items():
            first, second = _bucket_extremes(values, start, end)
            columns[key].append(first)
            if len(rows) == 2:
                columns[key].append(second)
    return columns


class DayHistory:
    """GET /api/history/<day>: encoded answers cached by (day, file size, mtime, points)."""

    def __init__(self, data_dir, vehicle):
        self.data_dir = str(data_dir)
        self.vehicle = vehicle
        self._cache = collections.OrderedDict()
        self._lock = threading.Lock()

    def body(self, day, max_points):
        """Return (json_bytes, gzip_bytes) for `day`. Raise FileNotFoundError when there is no such file."""
        if not DAY_RE.match(day):
            raise FileNotFoundError(day)
        path = os.path.join(self.data_dir, f"{day}.txt")
        stat = os.stat(path)
        key = (day, stat.st_size, stat.st_mtime_ns, max_points)
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        stamps, fixes, series = read_day(path)
        document = {
            "vehicle": self.vehicle,
            "day": day,
            "total_rows": len(stamps),
            "last_id": len(stamps) - 1,
            "points": downsample(stamps, fixes, series, max_points),
        }
        raw = json.dumps(document, separators=(",", ":")).encode()
        encoded = (raw, gzip.compress(raw, compresslevel=6, mtime=0))
        with self._lock:
            self._cache[key] = encoded
            while len(self._cache) > CACHE_ENTRIES:
                self._cache.popitem(last=False)
        return encoded
