"""GET /api/range?from=ISO&to=ISO: any time range across the daily files as a stored day's chart data, in an LRU
cache keyed by the range and its files' sizes and mtimes (a range holding the growing today is made anew)."""

import calendar
import collections
import datetime as dt
import functools
import gzip
import json
import os
import re
import threading

import bottle

from meso360.web import api, dayhistory, rangeread
from meso360.web.confine import regular_file_inside
from meso360.web.qcmarks import DayQcMarks, marks_for_points
from meso360.web.responses import json_error, whole_number

MAX_RANGE_DAYS = 31
MAX_RANGE_S = MAX_RANGE_DAYS * 86400
# Times are UTC and say so: 2026-11-30T21:00Z, 2026-11-30T21:00:00Z, 2026-11-30T21:00:00.000Z (a browser's
# toISOString); nothing else (no offset, no bare day, no other separator). \Z: no newline after the Z.
TIME_RE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:\.([0-9]{1,9}))?)?Z\Z")
FIRST_YEAR, LAST_YEAR = 1970, 2099
CACHE_BYTES = 2 * 1024 * 1024  # gzip answers; a range at 2000 points is about 40 kB
MAX_WAITING = 2  # requests waiting while one range is read; beyond them: 503 (each read costs up to seconds of CPU)


class RangeError(ValueError):
    """A from or to that is not a UTC time, or a range that is empty or too long: the message is for the client."""


class RangeBusy(Exception):  # noqa: N818  a state, not a failure: answered 503
    """Too many range requests are waiting for the one being read."""


def parse_time(text, name):
    """Given a query value such as 2026-11-30T21:00:00Z, return its epoch seconds rounded up to a whole second
    (rows are timed to the second). Raise RangeError naming `name`."""
    shown = text if len(text) <= 40 else text[:40] + "..."
    match = TIME_RE.match(text) if text.isascii() else None
    if match is None:
        raise RangeError(f"{name} must be a UTC time such as 2026-11-30T21:00:00Z (ending in Z), not {shown!r}")
    year, month, day, hour, minute, second, fraction = match.groups()
    try:
        when = dt.datetime(int(year), int(month), int(day), int(hour), int(minute), int(second or 0), tzinfo=dt.UTC)
    except ValueError:
        raise RangeError(f"{name} is not a valid date and time: {shown!r}") from None
    if not FIRST_YEAR <= when.year <= LAST_YEAR:
        raise RangeError(f"{name} must be from {FIRST_YEAR} to {LAST_YEAR}, not {shown!r}")
    seconds = calendar.timegm(when.timetuple())
    return seconds + 1 if fraction and int(fraction) else seconds


def parse_range(query):
    """Given the query (from, to), return (start, end) epoch seconds, end excluded. Raise RangeError."""
    texts = [query.get(name, "") for name in ("from", "to")]
    if not all(texts):
        raise RangeError("give from and to as UTC times, e.g. ?from=2026-11-29T21:00:00Z&to=2026-11-30T21:00:00Z")
    start, end = parse_time(texts[0], "from"), parse_time(texts[1], "to")
    if start >= end:
        raise RangeError(f"from must be before to (from {texts[0]}, to {texts[1]})")
    if end - start > MAX_RANGE_S:
        raise RangeError(f"the range is longer than {MAX_RANGE_DAYS} days: ask for a shorter one")
    return start, end


def day_names(start, end):
    """Return the YYYYMMDD.txt names of the UTC days from `start` to `end` - 1 s, oldest first."""
    first = dt.datetime.fromtimestamp(start, dt.UTC).date()
    count = (dt.datetime.fromtimestamp(end - 1, dt.UTC).date() - first).days + 1
    return [f"{first + dt.timedelta(days=offset):%Y%m%d}.txt" for offset in range(count)]


class RangeHistory:
    """GET /api/range: gzip answers in an LRU cache keyed by (start, end, points, each file's name, size, mtime).

    A range holding the newest file gets a new key with each appended row: its answer is made anew, and its
    older answer is dropped at once. Ranges are read one at a time; MAX_WAITING more wait, others get RangeBusy.
    """

    def __init__(self, data_dir, vehicle, cache_bytes=CACHE_BYTES):
        self.data_dir = str(data_dir)
        self.vehicle = vehicle
        self.cache_bytes = cache_bytes
        self._cache = collections.OrderedDict()  # key -> gzip bytes
        self._latest = {}  # (start, end, points) -> its key in the cache
        self._cached_bytes = 0
        self._lock = threading.Lock()
        self._read_lock = threading.Lock()
        self._waiting = 0
        self.qc_marks = DayQcMarks()  # the flagged rows of the range's days (QC sidecars), read incrementally

    def files(self, start, end):
        """Return [(path, size, mtime_ns, its QC sidecar's stamp)] of the range's existing daily files (regular files
        inside data_dir): the cache key (a recomputed sidecar makes a new answer too)."""
        found = []
        for name in day_names(start, end):
            if not regular_file_inside(self.data_dir, name):
                continue
            path = os.path.join(self.data_dir, name)
            try:
                stat = os.stat(path)
            except FileNotFoundError:
                continue  # removed meanwhile
            found.append((path, stat.st_size, stat.st_mtime_ns, DayQcMarks.stamp(path)))
        return found

    def body(self, start, end, max_points):
        """Return the gzip JSON of the range start..end (end excluded) at `max_points`. Raise RangeBusy."""
        files = self.files(start, end)
        key = (start, end, max_points, tuple(files))
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
            if self._waiting > MAX_WAITING:
                raise RangeBusy
            self._waiting += 1
        try:
            with self._read_lock:
                with self._lock:
                    if key in self._cache:  # read by the request this one waited for
                        return self._cache[key]
                paths = [path for path, *_stamps in files]
                total, points = rangeread.range_answer(paths, start, end, max_points)
                marks = [mark for path in paths for mark in self.qc_marks.marks(path) if start <= mark[0] < end]
        finally:
            with self._lock:
                self._waiting -= 1
        document = {
            "vehicle": self.vehicle,
            "from": _utc(start),
            "to": _utc(end),
            "days": [os.path.basename(path)[:8] for path in paths],
            "total_rows": total,
            "last_id": total - 1,
            "points": points,
            "qc": marks_for_points(points, total, marks),
        }
        gzipped = gzip.compress(json.dumps(document, separators=(",", ":")).encode(), compresslevel=6, mtime=0)
        self._remember(key, gzipped)
        return gzipped

    def _remember(self, key, gzipped):
        with self._lock:
            if key in self._cache:
                return
            older = self._latest.get(key[:3])
            if older is not None and older in self._cache:  # the same range before its files grew
                self._cached_bytes -= len(self._cache.pop(older))
            self._latest[key[:3]] = key
            self._cache[key] = gzipped
            self._cached_bytes += len(gzipped)
            while self._cached_bytes > self.cache_bytes and len(self._cache) > 1:
                old_key, old = self._cache.popitem(last=False)
                self._cached_bytes -= len(old)
                if self._latest.get(old_key[:3]) == old_key:
                    del self._latest[old_key[:3]]

    def cached_bytes(self):
        """Return the bytes held by the answer cache (the bound is cache_bytes)."""
        with self._lock:
            return self._cached_bytes

    def waiting(self):
        """Return how many requests are reading a range or waiting to."""
        with self._lock:
            return self._waiting

    def cached_count(self):
        """Return how many answers the cache holds."""
        with self._lock:
            return len(self._cache)


def _utc(seconds):
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _range(services, ranges):
    query = bottle.request.query
    try:
        start, end = parse_range(query)
        points = whole_number(
            query.get("points", str(dayhistory.DEFAULT_POINTS)), "points", dayhistory.MIN_POINTS, dayhistory.MAX_POINTS
        )
    except ValueError as error:
        return json_error(400, str(error))
    busy = api._too_much_output_pending(services)
    if busy:
        return busy
    try:
        gzipped = ranges.body(start, end, points)
    except RangeBusy:
        answer = json_error(503, "busy: other time ranges are being read; try again")
        answer.set_header("Retry-After", "2")
        return answer
    return api._encoded(None, gzipped)


def add_routes(app, services):
    """Given the Bottle app and the Services, add GET /api/range (its cache lives as long as the app)."""
    general = services.config.general
    ranges = RangeHistory(general.data_dir, general.vehicle)
    app.get("/api/range", callback=functools.partial(_range, services, ranges))
