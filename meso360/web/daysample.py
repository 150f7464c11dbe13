"""A day's rows as chart data: its columns (ParsedDay) or the kept newest day's block summary (DaySummary),
downsampled to at most max_points per series, each bucket's minimum and maximum in time order."""

import array
import itertools
import math
import operator

from meso360.datafile import RowReader, read_complete_text
from meso360.web import dayparse
from meso360.web.dayrange import CHUNK_BYTES, DOUBLE_KEYS, SINGLE, series_extremes
from meso360.web.points import SERIES_KEYS

_NAN = float("nan")


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
        size, rows, single_last = buckets(total, max_points)
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
            columns[key] = tidy(extremes, "f" if index in self._single else "d")
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
            columns[key] = tidy(values, values)
        return columns
    size, rows, single_last = buckets(total, max_points)
    slices = [slice(start, start + size) for start in range(0, total, size)]
    fix = [True] * len(rows) if fixes is None else [fixes[row] for row in rows]
    columns = {"id": rows, "ts": [stamps[row] for row in rows], "fix": fix}
    for key, values in series.items():
        extremes = series_extremes(values if isinstance(values, array.array | list) else list(values), slices)
        columns[key] = tidy(extremes, values)
        if single_last:
            columns[key].pop()
    return columns


def buckets(total, max_points):
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


def tidy(numbers, source):
    """Return `numbers` as a list, None for nan or None, rounded to 7 digits when `source` is a float32 array
    (or the typecode "f")."""
    if getattr(source, "typecode", source) == "f":
        if None not in numbers and math.isfinite(sum(numbers)):
            return list(map(float, map(format, numbers, itertools.repeat(".7g"))))
        return [None if value is None or value != value else float(f"{value:.7g}") for value in numbers]
    return [None if value is None or value != value else value for value in numbers]
