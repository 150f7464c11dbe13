"""One byte range of a daily file summarised per bucket of rows: each series' minimum and maximum.

The cold path of the day history (dayhistory.stream_downsample) reads a large day in two parts at once:
the start in the web daemon, the end in a helper process started as

    python3 -m meso360.web.dayrange PATH

which reads a line "BEGIN END SIZE" on standard input (none: exit, not needed after all) and writes the answer
of range_extremes() as JSON on standard output. Its imports are kept few: it starts while the request waits.
"""

import itertools
import json
import math
import operator
import sys

from meso360.datafile import RowReader, read_complete_text
from meso360.web import dayparse
from meso360.web.points import SERIES_KEYS

CHUNK_BYTES = 1 << 16  # about 600 rows: the cells of a chunk stay in the CPU cache while its columns are parsed
# Series values are kept as float32 (4.8 MB of columns for a full day instead of 7.6 MB) but for lat and
# lon: their 5 decimals need more than float32's 7 significant digits.
DOUBLE_KEYS = frozenset(("lat", "lon"))
# Indexes (in SERIES order) of the float32 series: parsed already rounded, so that a value beyond float32
# is nan (missing) on every path, not inf in an array("f") of one path only.
SINGLE = frozenset(index for index, key in enumerate(SERIES_KEYS) if key not in DOUBLE_KEYS)


def _extremes(part):
    """Return (first, second): the minimum and maximum of `part` in time order, or (None, None) when all nan."""
    numbers = list(itertools.filterfalse(math.isnan, part))
    if not numbers:
        return None, None
    low, high = min(numbers), max(numbers)
    return (low, high) if part.index(low) <= part.index(high) else (high, low)


def series_extremes(values, slices):
    """Given one series (array or list) and the bucket slices, return each bucket's minimum and maximum in
    time order. No per-row Python: min, max and index of each bucket run in C over slices of the array.
    """
    parts = list(map(values.__getitem__, slices))  # of an array: copies of C floats, no float objects
    if not math.isfinite(sum(values)):  # a nan somewhere (stored values are never infinite)
        return [value for part in parts for value in _extremes(part)]
    index = type(values).index
    at_low = list(map(index, parts, map(min, parts)))
    at_high = list(map(index, parts, map(max, parts)))
    extremes = [None] * (2 * len(parts))
    extremes[0::2] = map(operator.getitem, parts, map(min, at_low, at_high))
    extremes[1::2] = map(operator.getitem, parts, map(max, at_low, at_high))
    return extremes


def range_extremes(path, begin, end, size):
    """Summarise the rows in bytes begin..end of a daily file per bucket of `size` rows, the first bucket
    starting at `begin`: {"rows": count, "edges": [first and last GPS second of each bucket], "extremes":
    [per series, each bucket's minimum and maximum in time order]}. Values are rounded to float32 (but lat,
    lon) as ParsedDay keeps them. None when a line there is not a row with a GPS fix, or rows go back in time.
    """
    reader, rows, previous, offset = RowReader(), 0, None, begin
    starts, ends = [], []
    carry = [[] for _ in SERIES_KEYS]  # rows of the bucket that continues into the next chunk
    extremes = [[] for _ in SERIES_KEYS]
    while offset < end:
        text, after = read_complete_text(path, offset, min(CHUNK_BYTES, end - offset))
        if after == offset:
            break
        offset = after
        parsed = dayparse.parse_ordered_chunk(text, reader, SINGLE)
        if parsed is None:
            return None
        count, seconds_at, series = parsed
        if not count:
            continue
        if previous is not None and seconds_at(0, count)[0] < previous:
            return None
        previous = seconds_at(count - 1, count)[0]
        starts += seconds_at(-rows % size, size)
        ends += seconds_at((size - 1 - rows) % size, size)
        rows += count
        for index, values in enumerate(series):
            values = carry[index] + list(values) if carry[index] else list(values)
            whole = len(values) // size * size
            if whole:
                slices = [slice(start, start + size) for start in range(0, whole, size)]
                extremes[index] += series_extremes(values, slices)
            carry[index] = values[whole:]
    if rows % size:
        ends.append(previous)
        for index in range(len(SERIES_KEYS)):
            extremes[index] += series_extremes(carry[index], [slice(0, size)])
    edges = [stamp for pair in zip(starts, ends, strict=True) for stamp in pair]
    return {"rows": rows, "edges": edges, "extremes": extremes}


def main():
    """The helper process: PATH as the argument, a line BEGIN END SIZE on standard input, JSON on standard output."""
    if len(sys.argv) != 2:
        print("usage: python3 -m meso360.web.dayrange PATH  (BEGIN END SIZE on standard input)", file=sys.stderr)
        return 2
    numbers = sys.stdin.readline().split()
    if not numbers:
        return 0  # the request did not need a second half after all
    begin, end, size = map(int, numbers)
    json.dump(range_extremes(sys.argv[1], begin, end, size), sys.stdout, separators=(",", ":"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
