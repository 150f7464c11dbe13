"""Any stored day as chart data: read a daily file and downsample it per series, keeping minima and maxima."""

import array
import collections
import gzip
import json
import math
import os
import re
import threading

from meso360.datafile import GPS_DATE_COLUMN, GPS_TIME_COLUMN, OBS_COLUMNS, daily_files, read_complete_lines
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
        values = list(map(float, texts))  # C speed; a day is 86 400 values per series
    except ValueError:
        values = [number_or_none(text) for text in texts]
        return [_NAN if value is None else value for value in values]
    if math.inf in values or -math.inf in values:
        values = [value if math.isfinite(value) else _NAN for value in values]
    return values


def _seconds_column(dates, times, rows):
    """Given the gps_date and gps_time cells, return epoch seconds (None without a valid fix)."""
    midnights = {date: rows.gps_seconds_of(date, "000000") for date in set(dates)}
    try:
        clock = list(map(int, times))
    except ValueError:
        return [rows.gps_seconds_of(date, time) for date, time in zip(dates, times, strict=True)]
    return [
        None
        if midnights[date] is None or len(text) != 6 or value >= 240000 or value % 100 > 59 or value // 100 % 100 > 59
        else midnights[date] + value // 10000 * 3600 + value // 100 % 100 * 60 + value % 100
        for date, text, value in zip(dates, times, clock, strict=True)
    ]


def _chunk_columns(lines):
    """Given data file lines (with newlines), return the 17 columns (lists of cells) of the well-formed ones."""
    tokens = "".join(lines).replace("\r", "").replace("\n", ",").split(",")
    if len(tokens) == len(lines) * _FIELD_COUNT + 1 and all(line.endswith("\n") for line in lines):
        return [tokens[column:-1:_FIELD_COUNT] for column in range(_FIELD_COUNT)]
    # Some line is malformed (or the header): split line by line and keep the good ones.
    good = [fields for fields in (line.rstrip("\r\n").split(",") for line in lines) if len(fields) == _FIELD_COUNT]
    good = [fields for fields in good if fields[0] != OBS_COLUMNS[0]]
    return [list(column) for column in zip(*good, strict=True)] if good else [[] for _ in range(_FIELD_COUNT)]


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
            lines, offset = read_complete_lines(self.path, self.offset, 1 << 20)
            if offset == self.offset:
                return
            self.offset = offset
            lines = [line + "\n" for line in lines if not line.startswith(OBS_COLUMNS[0] + ",")]
            if not lines:
                continue
            columns = _chunk_columns(lines)
            stamps = _seconds_column(columns[GPS_DATE_COLUMN], columns[GPS_TIME_COLUMN], self._rows)
            self.seconds.extend(-1 if second is None else second for second in stamps)
            for key, column in zip(SERIES_KEYS, SERIES_INDEXES, strict=True):
                self.series[key].extend(_column_floats(columns[column]))

    def columns(self):
        """Return (ts list, fix list, {key: float array}) in time order; rows without fix 1 s after the previous."""
        seconds = self.seconds.tolist()
        fixes = [second >= 0 for second in seconds]
        keep = range(len(seconds))
        if not all(fixes):
            keep, previous = [], None
            for index, second in enumerate(seconds):
                if second < 0:
                    if previous is None:
                        continue
                    second = seconds[index] = previous + 1
                previous = second
                keep.append(index)
        series = self.series
        if len(keep) != len(seconds) or any(a > b for a, b in zip(seconds, seconds[1:], strict=False)):
            order = sorted(keep, key=seconds.__getitem__)  # stable: file order within a second
            seconds = [seconds[i] for i in order]
            fixes = [fixes[i] for i in order]
            series = {key: array.array("d", (values[i] for i in order)) for key, values in series.items()}
        return seconds, fixes, series


def read_day(path):
    """Given a daily file, return (ts list, fix list, {series key: array of floats, nan = missing}) by time."""
    parsed = ParsedDay(path)
    parsed.extend()
    return parsed.columns()


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
