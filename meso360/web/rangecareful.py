"""The careful path of a time range (a row without GPS fix, rows out of time order, a malformed line): each file
read whole with ParsedDay, as a stored day is (rows without fix 1 s after the previous, sorted by time), cut to
the range. Small ranges keep the columns of every file and call daysample.downsample; a large one (a deployment)
is read twice, one file at a time: first to count its rows in the range, then to summarise its buckets with
dayrange.series_extremes, so the memory stays that of one day."""

import array
import bisect

from meso360.web.dayrange import series_extremes
from meso360.web.daysample import ParsedDay, downsample
from meso360.web.points import SERIES_KEYS

# Files up to this size together keep their columns at once (about 4.8 MB per full day of 9 MB): beyond it the
# range is read one file at a time, twice.
IN_MEMORY_BYTES = 20 * 1024 * 1024


def _columns_in_range(path, start, end, offset=0):
    """Return (seconds, fixes or None, {key: array}, first, last) of a file read from `offset` (a line start),
    rows first..last (last excluded) being those with GPS time start..end."""
    parsed = ParsedDay(path)
    parsed.offset = offset  # the rows before it are not in the range
    parsed.extend()
    seconds, fixes, series = parsed.columns()
    return seconds, fixes, series, bisect.bisect_left(seconds, start), bisect.bisect_left(seconds, end)


def careful_answer(paths, start, end, max_points, offsets=None):
    """Return (total rows, columnar points) of the rows with GPS time start..end (end excluded) of the files, read
    with ParsedDay (from the byte offset given per path, else whole) and downsampled by daysample.downsample."""
    stamps, fixes, series = [], [], {key: None for key in SERIES_KEYS}
    for path in paths:
        seconds, fix, columns, first, last = _columns_in_range(path, start, end, (offsets or {}).get(str(path), 0))
        stamps += seconds[first:last]
        fixes += [True] * (last - first) if fix is None else fix[first:last]
        for key, values in columns.items():
            part = values[first:last]
            series[key] = part if series[key] is None else series[key] + part
    if stamps != sorted(stamps):  # a file holding rows of another day: in time order, as a day is drawn
        order = sorted(range(len(stamps)), key=stamps.__getitem__)
        stamps, fixes = [stamps[i] for i in order], [fixes[i] for i in order]
        series = {key: array.array(values.typecode, (values[i] for i in order)) for key, values in series.items()}
    if series[SERIES_KEYS[0]] is None:
        series = {key: [] for key in SERIES_KEYS}
    return len(stamps), downsample(stamps, None if all(fixes) else fixes, series, max_points)


def rows_in_range(path, start, end):
    """Return how many rows of a file (read whole, as a day) have a GPS time start..end (end excluded)."""
    _seconds, _fixes, _series, first, last = _columns_in_range(path, start, end)
    return last - first


def _summary(seconds, fixes, series, first, stop, size):
    """The answer of dayrange.range_extremes for rows first..stop in buckets of `size`, plus the fix of each
    bucket's first and last row ("fixes")."""
    slices = [slice(begin, min(begin + size, stop)) for begin in range(first, stop, size)]
    ends = [row for part in slices for row in (part.start, part.stop - 1)]
    return {
        "rows": stop - first,
        "edges": [seconds[row] for row in ends],
        "fixes": [True] * len(ends) if fixes is None else [fixes[row] for row in ends],
        "extremes": [series_extremes(series[key], slices) for key in SERIES_KEYS],
    }


def file_parts(path, start, end, size, row, count):
    """Return [(rows, answer)] of the first `count` rows of a file in the range, the file's first row being row
    number `row` of the range: the rows finishing the bucket the previous file left open (if any), then the rest
    in whole buckets of `size` (a last partial one)."""
    seconds, fixes, series, first, last = _columns_in_range(path, start, end)
    stop = min(last, first + count)  # rows appended since they were counted are not in this answer
    lead = min(-row % size, stop - first)
    parts = []
    if lead:
        parts.append((lead, _summary(seconds, fixes, series, first, first + lead, size)))
    if stop > first + lead:
        parts.append((stop - first - lead, _summary(seconds, fixes, series, first + lead, stop, size)))
    return parts
