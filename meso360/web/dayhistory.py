"""Any stored day as chart data: read a daily file and downsample it per series, keeping minima and maxima."""

import array
import bisect
import collections
import ctypes
import gzip
import itertools
import json
import logging
import math
import operator
import os
import re
import subprocess
import sys
import threading
import time

from meso360.datafile import OBS_COLUMNS, RowReader, daily_files, read_complete_text
from meso360.web import dayparse
from meso360.web.dayrange import CHUNK_BYTES, DOUBLE_KEYS, SINGLE, range_extremes, series_extremes
from meso360.web.points import SERIES_KEYS

log = logging.getLogger(__name__)

DAY_RE = re.compile(r"^[0-9]{8}\Z")  # ASCII digits only; \Z: no newline after them
DEFAULT_POINTS = 2000
MAX_POINTS = 20000
MIN_POINTS = 10
# Encoded answers of any day, least recently used dropped first; bounded by their gzip bytes (a day at
# 2000 points is about 40 kB, at 20000 points about 400 kB).
CACHE_BYTES = 2 * 1024 * 1024
COUNT_BLOCK_BYTES = 1 << 16  # a day's lines are counted in blocks this small: reused heap, no page faults
_NAN = float("nan")
WARM_INTERVAL_S = 60.0  # today's summary extended, a new day noticed, at least this often
WARM_NICE = 10


def list_days(data_dir):
    """Return the YYYYMMDD of every daily file in `data_dir`, newest first."""
    return [path.name[:8] for path in reversed(daily_files(data_dir))]


class ParsedDay:
    """The columns of one daily file, parsed up to `offset`; extend() reads only what was appended since."""

    def __init__(self, path):
        self.path = path
        self.offset = 0
        self.seconds = array.array("q")  # -1: no GPS fix
        self.series = {key: array.array("d" if key in DOUBLE_KEYS else "f") for key in SERIES_KEYS}
        self._rows = RowReader()

    def extend(self):
        """Parse the complete lines appended since the last call, in chunks of about 1 MB, column-wise."""
        while True:
            text, offset = read_complete_text(self.path, self.offset, CHUNK_BYTES)
            if offset == self.offset:
                return
            self.offset = offset
            seconds, series = dayparse.parse_chunk(text, self._rows, SINGLE)
            if None in seconds:
                seconds = [-1 if second is None else second for second in seconds]
            self.seconds.extend(seconds)
            for key, values in zip(SERIES_KEYS, series, strict=True):
                self.series[key].fromlist(list(values))  # faster than extend() from an iterator

    def columns(self):
        """Return (ts, fix, {key: array}) in time order; rows without fix 1 s after the previous.

        The common case (every row has a fix, in time order) returns the kept arrays themselves and
        fix None (all True): a list of 86 400 ints would cost 3 MB of heap that stays in the RSS.
        """
        if -1 not in self.seconds and all(map(operator.le, self.seconds, itertools.islice(self.seconds, 1, None))):
            return self.seconds, None, self.series
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
            series = {key: array.array(values.typecode, (values[i] for i in order)) for key, values in series.items()}
        return seconds, fixes, series


BLOCK_ROWS = 16  # rows summarised together in the kept newest day; every bucket is a whole number of blocks


def _block_extremes(values, parts):
    """Given one series' values and slices of them, return (lows, highs, index of low, index of high).

    Indexes are the first occurrence in the part; a part of nan only gives nan and index 0.
    """
    parts = list(map(values.__getitem__, parts))
    if math.isfinite(sum(values)):
        lows, highs = list(map(min, parts)), list(map(max, parts))
    else:
        numbers = [list(itertools.filterfalse(math.isnan, part)) or [_NAN] for part in parts]
        lows, highs = list(map(min, numbers)), list(map(max, numbers))
    index = type(values).index
    at_low = [0 if low != low else index(part, low) for part, low in zip(parts, lows, strict=True)]
    at_high = [0 if high != high else index(part, high) for part, high in zip(parts, highs, strict=True)]
    return lows, highs, at_low, at_high


class DaySummary:
    """The kept newest day, small: per block of BLOCK_ROWS rows, each series' minimum and maximum (and where
    in the block they are) and the block's first and last GPS second; the rows after the last whole block
    as they are. About 0.7 MB for a full day instead of 4.8 MB of columns.

    Only for a day whose every row has a GPS fix, in time order (the common case): extend() returns
    False at the first row that is not, and the caller reads the day as a ParsedDay instead.
    """

    def __init__(self, path):
        self.path = path
        self.offset = 0
        self.first_ts, self.last_ts = array.array("q"), array.array("q")
        typecodes = ["d" if key in DOUBLE_KEYS else "f" for key in SERIES_KEYS]
        self.lows = [array.array(code) for code in typecodes]
        self.highs = [array.array(code) for code in typecodes]
        self.at_low = [array.array("B") for _ in SERIES_KEYS]
        self.at_high = [array.array("B") for _ in SERIES_KEYS]
        self.tail_ts = []  # the rows after the last whole block
        self.tail = [[] for _ in SERIES_KEYS]
        self._single = SINGLE
        self._rows = RowReader()

    def total(self):
        return len(self.first_ts) * BLOCK_ROWS + len(self.tail_ts)

    def extend(self):
        """Summarise the complete lines appended since the last call; False when a row has no fix or is
        earlier than the row before it (the summary is then incomplete and must be let go)."""
        while True:
            text, offset = read_complete_text(self.path, self.offset, CHUNK_BYTES)
            if offset == self.offset:
                return True
            self.offset = offset
            seconds, series = dayparse.parse_chunk(text, self._rows, self._single)
            if None in seconds:
                return False
            stamps = self.tail_ts + seconds
            if not all(map(operator.le, stamps, itertools.islice(stamps, 1, None))):
                return False
            if self.last_ts and stamps and stamps[0] < self.last_ts[-1]:
                return False
            whole = len(stamps) // BLOCK_ROWS * BLOCK_ROWS
            blocks = [slice(start, start + BLOCK_ROWS) for start in range(0, whole, BLOCK_ROWS)]
            for index, values in enumerate(series):
                values = self.tail[index] + list(values)
                if blocks:
                    lows, highs, at_low, at_high = _block_extremes(values, blocks)
                    self.lows[index].fromlist(lows)
                    self.highs[index].fromlist(highs)
                    self.at_low[index].fromlist(at_low)
                    self.at_high[index].fromlist(at_high)
                self.tail[index] = values[whole:]
            self.first_ts.fromlist(stamps[0:whole:BLOCK_ROWS])
            self.last_ts.fromlist(stamps[BLOCK_ROWS - 1 : whole : BLOCK_ROWS])
            self.tail_ts = stamps[whole:]

    def answer(self, max_points):
        """Return (total rows, columnar points) as downsample() gives them, or None when all rows fit."""
        total = self.total()
        if total <= max_points:
            return None
        size, rows, single_last = _buckets(total, max_points)
        whole = len(self.first_ts) * BLOCK_ROWS
        columns = {"id": rows, "ts": [self._ts(row, whole) for row in rows], "fix": [True] * len(rows)}
        per_bucket = size // BLOCK_ROWS
        for index, key in enumerate(SERIES_KEYS):
            kept = (self.lows[index], self.highs[index], self.at_low[index], self.at_high[index])
            if self.tail_ts:  # the partial last block, summarised now (copies of C arrays: no float objects)
                tail = _block_extremes(self.tail[index], [slice(0, BLOCK_ROWS)])
                kept = [values + array.array(values.typecode, more) for values, more in zip(kept, tail, strict=True)]
            lows, highs, at_low, at_high = kept
            extremes = []
            for start in range(0, len(lows), per_bucket):
                extremes += _bucket_of_blocks(lows, highs, at_low, at_high, start, start + per_bucket)
            if single_last:
                extremes.pop()
            columns[key] = _tidy(extremes, "f" if index in self._single else "d")
        return total, columns

    def _ts(self, row, whole):
        if row >= whole:
            return self.tail_ts[row - whole]
        block, within = divmod(row, BLOCK_ROWS)
        return self.first_ts[block] if within == 0 else self.last_ts[block]


def _bucket_of_blocks(lows, highs, at_low, at_high, start, stop):
    """Return the minimum and maximum of blocks start..stop in time order (None, None when all nan).

    The first block holding the bucket's minimum holds its first occurrence: as list.index on the rows.
    """
    part_low, part_high = lows[start:stop], highs[start:stop]
    numbers = list(itertools.filterfalse(math.isnan, part_low))
    if not numbers:
        return [None, None]
    low, high = min(numbers), max(itertools.filterfalse(math.isnan, part_high))
    block_low, block_high = part_low.index(low), part_high.index(high)
    if (block_low, at_low[start + block_low]) <= (block_high, at_high[start + block_high]):
        return [low, high]
    return [high, low]


def read_day(path):
    """Given a daily file, return (ts list, fix list, {series key: array of floats, nan = missing}) by time."""
    parsed = ParsedDay(path)
    parsed.extend()
    return parsed.columns()


def downsample(stamps, fixes, series, max_points):
    """Return the columnar points: all rows when they fit, else 2 per bucket (each series' min and max).

    `fixes` None: every row has a fix. Values of float32 arrays are given back as the shortest decimal of
    7 significant digits (23.2, not 23.200000762939453).
    """
    total = len(stamps)
    if total <= max_points:
        columns = {"id": list(range(total)), "ts": list(stamps), "fix": [True] * total if fixes is None else fixes}
        for key, values in series.items():
            columns[key] = _tidy(values, values)
        return columns
    size, rows, single_last = _buckets(total, max_points)
    slices = [slice(start, start + size) for start in range(0, total, size)]
    fix = [True] * len(rows) if fixes is None else [fixes[row] for row in rows]
    columns = {"id": rows, "ts": [stamps[row] for row in rows], "fix": fix}
    for key, values in series.items():
        extremes = series_extremes(values if isinstance(values, array.array | list) else list(values), slices)
        columns[key] = _tidy(extremes, values)
        if single_last:
            columns[key].pop()
    return columns


def _buckets(total, max_points):
    """Return (rows per bucket, [first and last row of each bucket], whether the last bucket is one row).

    Buckets start at row 0 and hold `size` rows each but the last, `size` a multiple of BLOCK_ROWS (at most
    `max_points` points, fewer when 2 * total / max_points is not such a multiple): the same edges whether
    a day is read whole (downsample), chunk by chunk (stream_downsample) or from the kept block summaries
    of the newest day (DaySummary), so all three give the same answer.
    """
    size = math.ceil(total / (max_points // 2) / BLOCK_ROWS) * BLOCK_ROWS
    rows = [row for start in range(0, total, size) for row in (start, min(start + size, total) - 1)]
    single_last = rows[-2] == rows[-1]
    if single_last:
        rows.pop()  # a bucket of one row gives one point
    return size, rows, single_last


def _count_lines(path):
    """Return (header lines, newlines counted at the end of each block of COUNT_BLOCK_BYTES, byte offset after
    the last complete line) of a daily file."""
    counts, lines, end, position = [], 0, 0, 0
    with open(path, "rb") as file:
        head = file.read(len(OBS_COLUMNS[0]) + 1)
        file.seek(0)
        for block in iter(lambda: file.read(COUNT_BLOCK_BYTES), b""):
            found = block.count(b"\n")
            if found:
                lines += found
                end = position + block.rindex(b"\n") + 1
            counts.append(lines)
            position += len(block)
    return int(head == OBS_COLUMNS[0].encode() + b","), counts, end


def _line_offset(path, counts, line):
    """Given a file and its _count_lines() counts, return the byte offset at which line number `line` starts."""
    block = bisect.bisect_left(counts, line)  # the first block that ends at or after that line's newline
    if block == len(counts):
        return os.path.getsize(path)
    before = counts[block - 1] if block else 0
    with open(path, "rb") as file:
        file.seek(block * COUNT_BLOCK_BYTES)
        data = file.read(COUNT_BLOCK_BYTES)
    index = -1
    for _ in range(line - before):
        index = data.find(b"\n", index + 1)
        if index < 0:  # the file changed since it was counted: the row count check rejects the parts
            return os.path.getsize(path)
    return block * COUNT_BLOCK_BYTES + index + 1


# The cold path of a large day is split in two: the end summarised by a helper process (on the other core)
# while this one summarises the start. Below this size a process start costs more than it saves.
SPLIT_MIN_BYTES = 2 * 1024 * 1024
# The helper is a new interpreter, ready about 30 ms after it is started: this process takes a little more.
SPLIT_SHARE = 0.55
HELPER_COMMAND = (sys.executable, "-m", "meso360.web.dayrange")
HELPER_TIMEOUT_S = 60.0
_HELPER_FAILED = object()


def _start_helper(path):
    """Start the helper process for a day file (it waits for its byte range); None when it cannot (logged)."""
    try:
        return subprocess.Popen(
            [*HELPER_COMMAND, path], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
    except OSError as error:
        log.warning("day history: helper process not started (%s); reading the day in this process", error)
        return None


def _give_range(helper, begin, end, size):
    """Send the helper its byte range; False when it is gone already (logged)."""
    try:
        helper.stdin.write(f"{begin} {end} {size}\n".encode())
        helper.stdin.flush()  # one line: the helper starts on it (communicate() closes the pipe later)
    except OSError as error:
        log.warning("day history: helper process gone (%s); reading the day in this process", error)
        return False
    return True


def _helper_answer(helper):
    """Return the helper's range_extremes() answer (None included), or _HELPER_FAILED (logged)."""
    try:
        out, err = helper.communicate(timeout=HELPER_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        log.warning("day history: helper process gave no answer in %.0f s; reading in this process", HELPER_TIMEOUT_S)
        return _HELPER_FAILED
    if helper.returncode != 0:
        reason = err.decode(errors="replace").strip().splitlines()[-1:] or [f"exit status {helper.returncode}"]
        log.warning("day history: helper process failed (%s); reading in this process", reason[0])
        return _HELPER_FAILED
    try:
        return json.loads(out)
    except ValueError:
        log.warning("day history: helper process answered garbage; reading in this process")
        return _HELPER_FAILED


def _stop_helper(helper):
    """Stop the helper if it still runs (not needed, or no answer in time) and collect its exit status."""
    if helper.poll() is None:
        helper.kill()
    helper.communicate()


def stream_downsample(path, max_points):
    """Return (total rows, columnar points) of a daily file read chunk by chunk, or None for the careful path.

    The cold path for a day larger than `max_points`: only each bucket's extremes are kept, never the
    day's columns; a large file is summarised in two parts at once, by this process and a helper process
    started before the file's lines are counted. Values are rounded to float32 (but lat, lon) as ParsedDay
    keeps them, and buckets are cut as downsample() cuts them, so the answer equals
    downsample(*read_day(path), max_points).
    None (the caller reads the day whole) when not every line is a row with a GPS fix in time order.
    """
    began = time.monotonic()
    helper = _start_helper(path) if os.path.getsize(path) >= SPLIT_MIN_BYTES else None
    try:
        header, counts, end = _count_lines(path)
        total = (counts[-1] if counts else 0) - header
        if total <= max_points:
            return None
        size, rows, single_last = _buckets(total, max_points)
        split_row = round(total * SPLIT_SHARE / size) * size  # a bucket edge
        split = _line_offset(path, counts, header + split_row) if helper is not None else end
        if helper is not None and 0 < split_row < total and _give_range(helper, split, end, size):
            first = range_extremes(path, 0, split, size)
            second = _helper_answer(helper) if first is not None else None
            if second is _HELPER_FAILED:
                second = range_extremes(path, split, end, size)
            parts = [first, second]
        else:
            parts = [range_extremes(path, 0, end, size)]
    finally:
        if helper is not None:
            _stop_helper(helper)
    if None in parts:
        return None
    edges = [stamp for part in parts for stamp in part["edges"]]
    if sum(part["rows"] for part in parts) != total or not all(map(operator.le, edges, edges[1:])):
        return None
    if single_last:
        edges.pop()
    columns = {"id": rows, "ts": edges, "fix": [True] * len(rows)}
    for index, key in enumerate(SERIES_KEYS):
        extremes = [value for part in parts for value in part["extremes"][index]]
        if single_last:
            extremes.pop()
        columns[key] = _tidy(extremes, "f" if index in SINGLE else "d")
    how = "in two processes" if len(parts) == 2 else "in one process"
    log.info("day history: %s, %d rows read %s in %.0f ms", os.path.basename(path), total, how, _ms_since(began))
    return total, columns


def _ms_since(began):
    return 1000 * (time.monotonic() - began)


def _tidy(numbers, source):
    """Return `numbers` as a list, None for nan or None, rounded to 7 digits when `source` is a float32 array
    (or the typecode "f")."""
    if getattr(source, "typecode", source) == "f":
        if None not in numbers and math.isfinite(sum(numbers)):
            return list(map(float, map(format, numbers, itertools.repeat(".7g"))))
        return [None if value is None or value != value else float(f"{value:.7g}") for value in numbers]
    return [None if value is None or value != value else value for value in numbers]


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

    def body(self, day, max_points):
        """Return (None, gzip_bytes) for `day` (the JSON is gzip-decompressed for a client without gzip).

        Raise FileNotFoundError when there is no such file.
        """
        if not DAY_RE.match(day):
            raise FileNotFoundError(day)
        path = os.path.join(self.data_dir, f"{day}.txt")
        stat = os.stat(path)
        key = (day, stat.st_size, stat.st_mtime_ns, max_points)
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
        log.info("day history of today and yesterday warmed in %.0f ms", _ms_since(began))
        while not stop_event.wait(interval_s):
            self.warm()
