"""A time range across daily files as chart data, cut into buckets exactly as a stored day is (daysample.buckets,
each series' minimum and maximum in time order): the day history's code applied to the rows of several files.

The fast path finds the range's rows in each file by GPS time (rangeseek.py, a binary search over the bytes:
ingest writes a file in time order), counts them, and summarises each file's part with dayrange.range_extremes,
a large range in two processes at once (the day history's helper process, daysplit). A bucket that spans two
files is merged from its two parts. The careful path (a row without GPS fix, rows out of time order, a malformed
line: rangecareful.py) reads the files whole as days are read (ParsedDay): the same answer for a file in time
order, which the tests check.
"""

import logging
import operator
import os
import time

from meso360.datafile import RowReader
from meso360.web import daysplit, rangecareful, rangeseek
from meso360.web.dayrange import SINGLE, range_extremes
from meso360.web.daysample import buckets, tidy
from meso360.web.points import SERIES_KEYS

log = logging.getLogger(__name__)


def _merge(first, second):
    """Given the (minimum, maximum) in time order of two consecutive parts of one bucket, return the bucket's."""
    if first[0] is None:
        return second
    if second[0] is None:
        return first
    low, high = min(*first, *second), max(*first, *second)

    def position(value):  # the first occurrence, as list.index on the bucket's rows
        return (0, first.index(value)) if value in first else (1, second.index(value))

    return (low, high) if position(low) <= position(high) else (high, low)


def _pieces(segments, size):
    """Cut the segments into pieces [path, begin, end, rows]: each starts at a bucket edge, or finishes the bucket
    the previous file left open (then it holds at most the rest of that bucket)."""
    pieces, row = [], 0
    for segment in segments:
        lead = min(-row % size, segment.rows)
        begin = segment.begin
        if lead:
            lead_end = rangeseek.offset_after_lines(segment.path, begin, lead)
            pieces.append([segment.path, begin, lead_end, lead])
            begin = lead_end
        if segment.rows > lead:
            pieces.append([segment.path, begin, segment.end, segment.rows - lead])
        row += segment.rows
    return pieces


def _split_for_helper(pieces, size, total, path):
    """Split the largest piece of file `path` that starts at a bucket edge so that its end (about 45 % of all rows)
    goes to the helper process; return (index of the helper's piece in the new list, the list), or (None, pieces)."""
    candidates = [i for i, piece in enumerate(pieces) if piece[0] == path and piece[3] >= size]
    if not candidates:
        return None, pieces
    index = max(candidates, key=lambda i: pieces[i][3])
    path, begin, end, rows = pieces[index]
    helper_rows = total * (1 - daysplit.SPLIT_SHARE)
    keep = max(0, round((rows - helper_rows) / size)) * size
    if keep >= rows:
        return None, pieces
    if keep == 0:
        return index, pieces
    middle = rangeseek.offset_after_lines(path, begin, keep)
    split = [[path, begin, middle, keep], [path, middle, end, rows - keep]]
    return index + 1, pieces[:index] + split + pieces[index + 1 :]


def _summaries(pieces, size, helper):
    """Return (pieces, each piece's range_extremes() answer: None for a piece not all rows with a fix in time
    order), the end of the largest piece of the helper's file (if any) summarised by the helper process (the caller
    stops it)."""
    helper_index = None
    if helper is not None:
        helper_index, pieces = _split_for_helper(pieces, size, sum(piece[3] for piece in pieces), helper.args[-1])
        if helper_index is not None:
            path, begin, end, _rows = pieces[helper_index]
            if not daysplit._give_range(helper, begin, end, size):
                helper_index = None
    answers = []
    for index, (path, begin, end, _rows) in enumerate(pieces):
        if index == helper_index:
            answers.append(None)  # filled below
            continue
        answers.append(range_extremes(path, begin, end, size))
        if answers[-1] is None:
            return pieces, answers
    if helper_index is not None:
        answer = daysplit._helper_answer(helper)
        if answer is daysplit._HELPER_FAILED:
            path, begin, end, _rows = pieces[helper_index]
            answer = range_extremes(path, begin, end, size)
        answers[helper_index] = answer
    return pieces, answers


def _joined(pieces, answers, size):
    """Return (edges, fixes, extremes per series) of the pieces' answers in order, a bucket split over two pieces
    merged; None when a piece's rows are not what was counted or the times go back."""
    edges, fixes, extremes, row = [], [], [[] for _ in SERIES_KEYS], 0
    for (_path, _begin, _end, rows), answer in zip(pieces, answers, strict=True):
        if answer is None or answer["rows"] != rows:
            return None
        part_edges = answer["edges"]
        part_fixes = answer.get("fixes") or [True] * len(part_edges)  # range_extremes: only rows with a fix
        if row % size and part_edges:  # the first bucket of this piece finishes the previous one
            edges[-1], fixes[-1] = part_edges[1], part_fixes[1]
            for index, values in enumerate(answer["extremes"]):
                extremes[index][-2:] = _merge(tuple(extremes[index][-2:]), tuple(values[:2]))
                extremes[index] += values[2:]
            edges += part_edges[2:]
            fixes += part_fixes[2:]
        else:
            edges += part_edges
            fixes += part_fixes
            for index, values in enumerate(answer["extremes"]):
                extremes[index] += values
        row += rows
    if not all(map(operator.le, edges, edges[1:])):
        return None
    return edges, fixes, extremes


def _columns(rows, single_last, edges, fixes, extremes):
    """Return the columnar points of joined pieces, as daysample.downsample gives them."""
    if single_last:  # a last bucket of one row gives one point
        edges.pop()
        fixes.pop()
        for values in extremes:
            values.pop()
    columns = {"id": rows, "ts": edges, "fix": fixes}
    for index, key in enumerate(SERIES_KEYS):
        columns[key] = tidy(extremes[index], "f" if index in SINGLE else "d")
    return columns


def fast_answer(segments, max_points, helper=None):
    """Return (total rows, columnar points) of the segments, or None for the careful path. `helper`: a helper
    process started for one of the files (daysplit._start_helper), given a part of it if worth it."""
    total = sum(segment.rows for segment in segments)
    if total <= max_points:
        return None  # every row is drawn: the careful path reads just the range (ParsedDay from its start)
    size, rows, single_last = buckets(total, max_points)
    pieces, answers = _summaries(_pieces(segments, size), size, helper)
    if None in answers:
        return None
    joined = _joined(pieces, answers, size)
    return None if joined is None else (total, _columns(rows, single_last, *joined))


def streamed_careful_answer(paths, start, end, max_points):
    """Return (total rows, columnar points) of the range's rows, each file read whole as a day (ParsedDay) twice,
    one at a time: to count its rows in the range, then to summarise its buckets. The memory of one day."""
    counts = [rangecareful.rows_in_range(path, start, end) for path in paths]
    total = sum(counts)
    if total <= max_points:
        return rangecareful.careful_answer(paths, start, end, max_points)
    size, rows, single_last = buckets(total, max_points)
    pieces, answers, row = [], [], 0
    for path, count in zip(paths, counts, strict=True):
        if count:
            for part_rows, answer in rangecareful.file_parts(path, start, end, size, row, count):
                pieces.append([str(path), 0, 0, part_rows])
                answers.append(answer)
        row += count
    joined = _joined(pieces, answers, size)
    if joined is None:  # a file holding rows of another day: every row at once, sorted
        return rangecareful.careful_answer(paths, start, end, max_points)
    return total, _columns(rows, single_last, *joined)


def _helper_for(paths, start, end, reader):
    """Start the helper process for the file holding most of the range when the range is large enough to gain
    from it (before the files are searched: the new interpreter gets ready meanwhile); else None."""
    best, best_bytes, total_bytes = None, 0, 0
    for path in paths:
        first, last = rangeseek.time_span(path, reader)
        overlap = max(0, min(end, last) - max(start, first)) / max(1, last - first)
        estimate = overlap * os.path.getsize(path)
        total_bytes += estimate
        if estimate > best_bytes:
            best, best_bytes = path, estimate
    if best is None or total_bytes < daysplit.SPLIT_MIN_BYTES:
        return None
    return daysplit._start_helper(str(best))


def range_answer(paths, start, end, max_points):
    """Given the existing daily files of a range's days (oldest first) and GPS seconds start..end (end excluded),
    return (total rows, columnar points) as the day history gives a day: at most max_points, min and max per bucket."""
    began = time.monotonic()
    reader = RowReader()
    helper = _helper_for(paths, start, end, reader)
    try:
        segments = [rangeseek.find_segment(path, start, end, reader) for path in paths]
        answer, how = None, "careful"
        if None not in segments:
            answer, how = fast_answer([segment for segment in segments if segment.rows], max_points, helper), "fast"
    finally:
        if helper is not None:
            daysplit._stop_helper(helper)  # not given a part, or done (a second stop is harmless)
    if answer is None:
        if None not in segments and sum(segment.rows for segment in segments) <= max_points:
            offsets = {segment.path: segment.begin for segment in segments}
            answer, how = rangecareful.careful_answer(paths, start, end, max_points, offsets), "whole rows"
        elif sum(map(os.path.getsize, paths)) <= rangecareful.IN_MEMORY_BYTES:
            answer, how = rangecareful.careful_answer(paths, start, end, max_points), "careful"
        else:
            answer, how = streamed_careful_answer(paths, start, end, max_points), "careful, a file at a time"
    log.info("range history: %d rows of %d files read (%s) in %.0f ms", answer[0], len(paths), how, _ms(began))
    return answer


def _ms(began):
    return 1000 * (time.monotonic() - began)
