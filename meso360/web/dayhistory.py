"""Any stored day as chart data: read a daily file and downsample it per series, keeping minima and maxima."""

import array
import collections
import gzip
import json
import math
import os
import re
import threading

from meso360.datafile import daily_files
from meso360.web import dayparse
from meso360.web.points import SERIES_KEYS, RowReader

DAY_RE = re.compile(r"^\d{8}$")
DEFAULT_POINTS = 2000
MAX_POINTS = 20000
MIN_POINTS = 10
CACHE_ENTRIES = 8
CHUNK_BYTES = 1 << 16  # about 600 rows: the cells of a chunk stay in the CPU cache while its columns are parsed


def list_days(data_dir):
    """Return the YYYYMMDD of every daily file in `data_dir`, newest first."""
    return [path.name[:8] for path in reversed(daily_files(data_dir))]


class ParsedDay:
    """The columns of one daily file, parsed up to `offset`; extend() reads only what was appended since."""

    def __init__(self, path):
        self.path = path
        self.offset = 0
        self.seconds = array.array("q")  # -1: no GPS fix
        self.series = {key: array.array("d") for key in SERIES_KEYS}
        self._rows = RowReader()

    def extend(self):
        """Parse the complete lines appended since the last call, in chunks of about 1 MB, column-wise."""
        while True:
            text, offset = dayparse.read_text(self.path, self.offset, CHUNK_BYTES)
            if offset == self.offset:
                return
            self.offset = offset
            seconds, series = dayparse.parse_chunk(text, self._rows)
            if None in seconds:
                seconds = [-1 if second is None else second for second in seconds]
            self.seconds.extend(seconds)
            for key, values in zip(SERIES_KEYS, series, strict=True):
                self.series[key].extend(values)

    def columns(self):
        """Return (ts list, fix list, {key: float array}) in time order; rows without fix 1 s after the previous."""
        seconds = self.seconds.tolist()
        if -1 not in self.seconds:
            fixes = [True] * len(seconds)
            keep = None
        else:
            fixes = [second >= 0 for second in seconds]
            keep, previous = [], None
            for index, second in enumerate(seconds):
                if second < 0:
                    if previous is None:
                        continue
                    second = seconds[index] = previous + 1
                previous = second
                keep.append(index)
        series = self.series
        if (keep is not None and len(keep) != len(seconds)) or seconds != sorted(seconds):
            order = sorted(range(len(seconds)) if keep is None else keep, key=seconds.__getitem__)  # stable
            seconds = [seconds[i] for i in order]
            fixes = [fixes[i] for i in order]
            series = {key: array.array("d", (values[i] for i in order)) for key, values in series.items()}
        return seconds, fixes, series


def read_day(path):
    """Given a daily file, return (ts list, fix list, {series key: array of floats, nan = missing}) by time."""
    parsed = ParsedDay(path)
    parsed.extend()
    return parsed.columns()


def _extremes(part):
    """Return (first, second): the minimum and maximum of `part` in time order, or (None, None) when all nan."""
    numbers = [value for value in part if value == value]
    if not numbers:
        return None, None
    low, high = min(numbers), max(numbers)
    return (low, high) if part.index(low) <= part.index(high) else (high, low)


def _series_extremes(values, slices):
    """Given one series and the bucket slices, return each bucket's minimum and maximum in time order."""
    parts = list(map(values.__getitem__, slices))
    if not math.isfinite(sum(map(sum, parts))):  # a nan somewhere (stored values are never infinite)
        return [value for part in parts for value in _extremes(part)]
    lows, highs = list(map(min, parts)), list(map(max, parts))
    low_first = map(int.__le__, map(list.index, parts, lows), map(list.index, parts, highs))
    return [
        value
        for low, high, first in zip(lows, highs, low_first, strict=True)
        for value in ((low, high) if first else (high, low))
    ]


def downsample(stamps, fixes, series, max_points):
    """Return the columnar points: all rows when they fit, else 2 per bucket (each series' min and max)."""
    total = len(stamps)
    if total <= max_points:
        columns = {"id": list(range(total)), "ts": stamps, "fix": fixes}
        for key, values in series.items():
            columns[key] = [value if value == value else None for value in values]
        return columns
    size = math.ceil(total / (max_points // 2))
    slices = [slice(start, start + size) for start in range(0, total, size)]
    rows = [row for part in slices for row in (part.start, min(part.stop, total) - 1)]
    single_last = rows[-2] == rows[-1]
    if single_last:
        rows.pop()  # a bucket of one row gives one point
    columns = {"id": rows, "ts": [stamps[row] for row in rows], "fix": [fixes[row] for row in rows]}
    for key, values in series.items():
        columns[key] = _series_extremes(values.tolist() if isinstance(values, array.array) else list(values), slices)
        if single_last:
            columns[key].pop()
    return columns


class DayHistory:
    """GET /api/history/<day>: encoded answers cached by (day, file size, mtime, points)."""

    def __init__(self, data_dir, vehicle):
        self.data_dir = str(data_dir)
        self.vehicle = vehicle
        self._cache = collections.OrderedDict()
        self._lock = threading.Lock()
        self._parse_lock = threading.Lock()
        self._parsed = None

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
        with self._parse_lock:
            parsed = self._parsed
            if parsed is None or parsed.path != path or stat.st_size < parsed.offset:
                parsed = ParsedDay(path)
            parsed.extend()
            stamps, fixes, series = parsed.columns()
            if day == max(list_days(self.data_dir)[:1] or [day]):
                self._parsed = parsed  # the newest day grows: keep its columns, parse only what is appended
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
