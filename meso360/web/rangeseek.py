"""Where a time range's rows are in one daily file: a binary search over its bytes by GPS time (ingest writes a
file in time order), the rows counted; and a file's first and last GPS seconds. Used by rangeread.py.
"""

import calendar
import dataclasses
import math
import os
import time

PROBE_BYTES = 4096  # one probe of the binary search: about 40 rows, enough to pass a header or a bad line
COUNT_BYTES = 1 << 20


@dataclasses.dataclass
class Segment:
    """The rows of one daily file in the range: bytes begin..end (whole lines), `rows` lines."""

    path: str
    begin: int
    end: int
    rows: int


def _complete_end(file):
    """Return the offset just after the file's last complete line (a torn or growing last line is left out)."""
    size = file.seek(0, os.SEEK_END)
    position = size
    while position > 0:
        block = min(COUNT_BYTES, position)
        file.seek(position - block)
        newline = file.read(block).rfind(b"\n")
        if newline >= 0:
            return position - block + newline + 1
        position -= block
    return 0


def _rows_from(file, position, end, reader, size=PROBE_BYTES):
    """Yield (start, GPS seconds) of the rows beginning at or after byte `position` within `size` bytes (the header
    and malformed lines skipped), then (end, math.inf) when the last complete line is passed; None for a row
    without GPS fix (the search gives up)."""
    file.seek(max(position - 1, 0))
    data = file.read(size)
    start = position
    if position > 0:
        newline = data.find(b"\n")
        if newline < 0:
            if position - 1 + len(data) >= end:
                yield end, math.inf
            return
        start, data = position + newline, data[newline + 1 :]
    for line in data.split(b"\n")[:-1]:
        if start >= end:
            break
        parsed = reader.parse(line.decode("utf-8", errors="replace"))
        if parsed is not None:
            yield None if parsed[0] is None else (start, parsed[0])
        start += len(line) + 1
    if start >= end:
        yield end, math.inf


def _line_at(file, position, end, reader):
    """Return (start, GPS seconds) of the first row beginning at or after byte `position`, math.inf as its time
    past the last complete line; None when a row there has no GPS fix or no row is found in PROBE_BYTES."""
    return next(_rows_from(file, position, end, reader), None)


def _first_at_or_after(file, end, seconds, reader):
    """Return the byte offset of the first row whose GPS time is >= `seconds` (end when none), or None.

    A binary search over the bytes (a probe before the row sought moves past that whole row), every other probe
    placed by interpolation (rows are about evenly spaced in time), and the last few kB read once.
    """
    low, high, low_time, high_time, probes = 0, end, None, None, 0
    while high - low > PROBE_BYTES // 2:
        middle = (low + high) // 2
        if probes % 2 == 0 and low_time is not None and high_time is not None and low_time < high_time < math.inf:
            fraction = (seconds - low_time) / (high_time - low_time)
            middle = min(max(low + int((high - low) * fraction), low), high - 1)
        probes += 1
        found = _line_at(file, middle, end, reader)
        if found is None:
            return None
        if found[1] >= seconds:
            high, high_time = middle, found[1]
        else:
            low, low_time = found[0] + 1, found[1]
    for found in _rows_from(file, low, end, reader, size=PROBE_BYTES * 2):
        if found is None:
            return None
        if found[1] >= seconds:
            return found[0]
    return None


def _count_lines(file, begin, end):
    file.seek(begin)
    lines = 0
    while begin < end:
        block = file.read(min(COUNT_BYTES, end - begin))
        if not block:
            break
        lines += block.count(b"\n")
        begin += len(block)
    return lines


def offset_after_lines(path, begin, count):
    """Return the byte offset just after `count` lines from `begin` (a line start)."""
    with open(path, "rb") as file:
        file.seek(begin)
        while count > 0:
            block = file.read(COUNT_BYTES)
            found = block.count(b"\n")
            if found < count:
                if len(block) < COUNT_BYTES:
                    return begin + len(block)  # the file changed meanwhile: the row counts reject the parts
                count -= found
                begin += len(block)
                continue
            index = -1
            for _ in range(count):
                index = block.find(b"\n", index + 1)
            return begin + index + 1
    return begin


def find_segment(path, start, end, reader):
    """Given a daily file and a range of GPS seconds start..end (end excluded), return its Segment, or None when a
    row probed has no GPS fix (the careful path decides)."""
    with open(path, "rb") as file:
        complete = _complete_end(file)
        begin = _first_at_or_after(file, complete, start, reader)
        stop = _first_at_or_after(file, complete, end, reader) if begin is not None else None
        if stop is None:
            return None
        stop = max(stop, begin)
        return Segment(str(path), begin, stop, _count_lines(file, begin, stop))


def time_span(path, reader):
    """Return (first, last) GPS seconds of a daily file's rows from its first and last complete lines; the whole
    UTC day its name gives when either has no time."""
    midnight = calendar.timegm(time.strptime(os.path.basename(path)[:8], "%Y%m%d"))
    with open(path, "rb") as file:
        end = _complete_end(file)
        first = _line_at(file, 0, end, reader)
        file.seek(max(0, end - PROBE_BYTES))
        tail = file.read(min(end, PROBE_BYTES)).rstrip(b"\n").rsplit(b"\n", 1)[-1]
    last = reader.parse(tail.decode("utf-8", errors="replace"))
    if first is None or last is None or last[0] is None or not math.isfinite(first[1]):
        return midnight, midnight + 86400
    return first[1], last[0] + 1
