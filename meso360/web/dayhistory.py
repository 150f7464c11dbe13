"""GET /api/history/<day>: the answers of any stored day in an LRU cache, today's summary kept, and its warmer."""

import collections
import ctypes
import gzip
import json
import logging
import os
import re
import threading
import time

from meso360.datafile import daily_files
from meso360.web.daysample import DaySummary, ParsedDay, downsample
from meso360.web.daysplit import stream_downsample
from meso360.web.qcmarks import DayQcMarks, marks_for_points

log = logging.getLogger(__name__)

DAY_RE = re.compile(r"^[0-9]{8}\Z")  # ASCII digits only; \Z: no newline after them
DEFAULT_POINTS = 2000
MAX_POINTS = 20000
MIN_POINTS = 10
# Encoded answers of any day, least recently used dropped first; bounded by their gzip bytes (a day at
# 2000 points is about 40 kB, at 20000 points about 400 kB).
CACHE_BYTES = 2 * 1024 * 1024
WARM_INTERVAL_S = 60.0  # today's summary extended, a new day noticed, at least this often
WARM_NICE = 10


def list_days(data_dir):
    """Return the YYYYMMDD of every daily file in `data_dir`, newest first."""
    return [path.name[:8] for path in reversed(daily_files(data_dir))]


def _release_free_heap():
    """Give the heap pages freed after a day was parsed back to the system (glibc keeps them otherwise)."""
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):
        pass  # not glibc: the memory is reused by the next parse instead


class DayHistory:
    """GET /api/history/<day>: gzip answers in an LRU cache keyed by (day, file size, mtime, points).

    The newest day is kept as a DaySummary (about 0.7 MB at the end of a day; its columns, 4.8 MB, when
    a row has no fix or is out of time order) and extended with the rows appended since; any other day
    is read chunk by chunk when asked for and only its answer is kept.
    warm() prepares the operator's common case, today and yesterday, before anyone asks.
    """

    def __init__(self, data_dir, vehicle, cache_bytes=CACHE_BYTES):
        self.data_dir = str(data_dir)
        self.vehicle = vehicle
        self.cache_bytes = cache_bytes
        self._cache = collections.OrderedDict()  # key -> gzip bytes
        self._cached_bytes = 0
        self._lock = threading.Lock()
        self._parse_lock = threading.Lock()
        self._parsed = None  # ParsedDay of the newest day
        self.qc_marks = DayQcMarks()  # the flagged rows of the days' QC sidecars, read incrementally

    def body(self, day, max_points):
        """Return (None, gzip_bytes) for `day` (the JSON is gzip-decompressed for a client without gzip).

        Raise FileNotFoundError when there is no such file.
        """
        if not DAY_RE.match(day):
            raise FileNotFoundError(day)
        path = os.path.join(self.data_dir, f"{day}.txt")
        stat = os.stat(path)
        key = (day, stat.st_size, stat.st_mtime_ns, max_points, self.qc_marks.stamp(path))
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return None, self._cache[key]
        with self._parse_lock:
            streamed = None
            if self._parsed is None or self._parsed.path != path:
                if day != max(list_days(self.data_dir)[:1] or [day]):
                    streamed = stream_downsample(path, max_points)  # no columns kept: only the answer
            if streamed is None:
                streamed = self._answer(self._extended(day, path, stat.st_size), max_points)
        total, points = streamed
        document = {
            "vehicle": self.vehicle,
            "day": day,
            "total_rows": total,
            "last_id": total - 1,
            "points": points,
            "qc": marks_for_points(points, total, self.qc_marks.marks(path)),
        }
        raw = json.dumps(document, separators=(",", ":")).encode()
        gzipped = gzip.compress(raw, compresslevel=6, mtime=0)
        self._remember(key, gzipped)
        _release_free_heap()
        return None, gzipped

    @staticmethod
    def _answer(parsed, max_points):
        """Return (total rows, points) of a DaySummary or ParsedDay (call with _parse_lock held)."""
        if isinstance(parsed, DaySummary):
            answer = parsed.answer(max_points)
            if answer is not None:
                return answer
            parsed = ParsedDay(parsed.path)  # all rows fit: a small day, read whole and let go
            parsed.extend()
        stamps, fixes, series = parsed.columns()
        return len(stamps), downsample(stamps, fixes, series, max_points)

    def _extended(self, day, path, size):
        """Return the DaySummary of `day` read to its end, or its ParsedDay when a row has no fix or is out of
        time order; kept when it is the newest day."""
        parsed = self._parsed
        if parsed is None or parsed.path != path or size < parsed.offset:
            parsed = DaySummary(path)
        if isinstance(parsed, DaySummary) and not parsed.extend():
            parsed = ParsedDay(path)  # the columns themselves are kept for such a day (4.8 MB at its end)
        if isinstance(parsed, ParsedDay):
            parsed.extend()
        if day == max(list_days(self.data_dir)[:1] or [day]):
            self._parsed = parsed  # the newest day grows: keep its summary, parse only what is appended
        elif self._parsed is parsed:
            self._parsed = None  # yesterday now: its answer is cached, its summary let go
        return parsed

    def _remember(self, key, gzipped):
        with self._lock:
            if key in self._cache:
                return
            self._cache[key] = gzipped
            self._cached_bytes += len(gzipped)
            while self._cached_bytes > self.cache_bytes and len(self._cache) > 1:
                _old_key, old = self._cache.popitem(last=False)
                self._cached_bytes -= len(old)

    def cached_bytes(self):
        """Return the bytes held by the answer cache (the bound is cache_bytes)."""
        with self._lock:
            return self._cached_bytes

    def warm(self):
        """Answer yesterday at DEFAULT_POINTS into the cache, and parse today's appended rows into its columns.

        Cheap when nothing changed: a cache hit, and the rows appended since the last call. Today's
        answer itself is made on request (its file grows every second), from the kept columns.
        """
        newest_two = list_days(self.data_dir)[:2]
        try:
            if len(newest_two) == 2:
                self.body(newest_two[1], DEFAULT_POINTS)  # first: just after midnight it reuses the kept columns
            if newest_two:
                path = os.path.join(self.data_dir, f"{newest_two[0]}.txt")
                with self._parse_lock:
                    self._extended(newest_two[0], path, os.stat(path).st_size)
        except FileNotFoundError:
            pass  # removed meanwhile; the next pass sees the directory as it is

    def start_warming(self, stop_event, ready_event, interval_s=WARM_INTERVAL_S):
        """Warm in a daemon thread at low CPU priority: after `ready_event`, then every `interval_s`."""
        thread = threading.Thread(
            target=self._warm_loop, args=(stop_event, ready_event, interval_s), name="day-warmer", daemon=True
        )
        thread.start()
        return thread

    def _warm_loop(self, stop_event, ready_event, interval_s):
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), WARM_NICE)  # this thread only (Linux)
        except OSError as error:
            log.info("day warmer keeps the normal priority: %s", error)
        ready_event.wait()  # the live window is read first
        began = time.monotonic()
        self.warm()
        _release_free_heap()
        log.info("day history of today and yesterday warmed in %.0f ms", 1000 * (time.monotonic() - began))
        while not stop_event.wait(interval_s):
            self.warm()
