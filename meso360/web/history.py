"""The gzip body of GET /api/history, assembled from deflate chunks of finished blocks (compressed once).

The live window's points are grouped in blocks of BLOCK_POINTS. A finished block keeps, per column, its
values' JSON text (",v1,v2,...") compressed on its own as raw deflate ending on a Z_SYNC_FLUSH (byte
aligned, not final), plus the CRC-32 and length of that text; the text itself is not kept. A body is the
gzip header, the chunks of the blocks wholly inside the window, freshly compressed text for the rest
(the brackets and keys, the first block, the open last block), a final empty block and the trailer.
A column's chunks of consecutive whole blocks are joined into one Run, kept while those blocks are the same
(a new one every BLOCK_POINTS rows or so): a body then costs a few pieces per column, whatever the window's length.
"""

import itertools
import math

from meso360.web.deflate_parts import Chunk, GzipBody, Run
from meso360.web.points import POINT_KEYS

BLOCK_POINTS = 256  # 109 kB for 7200 points (64: 135 kB, each block compressed on its own)
# The open block and the first (trimmed) one are also kept as groups of GROUP_POINTS compressed on their own: a new
# body compresses afresh at most a group's worth of points at each end, not up to two blocks.
GROUP_POINTS = 32
_serials = itertools.count()  # Block.serial: which blocks a Run joins
_DATA_PREFIX = "data: {"


def column_texts(frames):
    """Given SSE frames of points ('data: {"id":1,"ts":2,...}'), return each column's values as 'v1,v2,...'.

    The values are numbers, null, true or false: no commas or quotes inside, so splitting the JSON of
    the points at commas gives '"key":value' tokens, column after column in POINT_KEYS order.
    """
    tokens = ",".join(frame[frame.index(_DATA_PREFIX) + len(_DATA_PREFIX) : -3] for frame in frames).split(",")
    count = len(POINT_KEYS)
    return [",".join(tokens[index::count]).replace(f'"{key}":', "") for index, key in enumerate(POINT_KEYS)]


def _group(points):
    """Return (the least time of `points`, a Chunk per column of their text) for Block.groups."""
    chunks = [Chunk("," + text, small=True) for text in column_texts(point.frame for point in points)]
    return min(point.ts for point in points), chunks


class Block:
    """Consecutive points of the window; `start` of them trimmed (set to None), chunks once finished.

    `groups` holds (least time, chunks) of each full group of GROUP_POINTS (None: a group partly trimmed) while the
    block is open, and again from its first trim on; a finished block inside the window needs only its chunks.
    """

    __slots__ = ("serial", "points", "start", "min_ts", "chunks", "groups")

    def __init__(self):
        self.serial = next(_serials)
        self.points = []
        self.start = 0
        self.min_ts = math.inf
        self.chunks = None
        self.groups = []

    def add(self, point):
        """Add a point; return True when the block is full (then finish() it)."""
        points = self.points
        points.append(point)
        if point.ts < self.min_ts:
            self.min_ts = point.ts
        if len(points) % GROUP_POINTS == 0 and len(points) < BLOCK_POINTS:
            begin = len(points) - GROUP_POINTS
            self.groups.append(None if begin < self.start else _group(points[begin:]))
        return len(points) >= BLOCK_POINTS

    def finish(self):
        if self.start:
            self.chunks = ()  # trimmed while open (a burst of rows): never wholly inside the window again
            self.groups = self._groups()
            return
        self.chunks = [Chunk("," + text) for text in column_texts(point.frame for point in self.points)]
        self.groups = None  # made again at the first trim

    def _groups(self):
        count = len(self.points) // GROUP_POINTS
        return [
            _group(self.points[number * GROUP_POINTS : (number + 1) * GROUP_POINTS])
            if number * GROUP_POINTS >= self.start
            else None
            for number in range(count)
        ]

    def trim_one(self):
        """Forget the oldest point still held; return True when none is left."""
        self.points[self.start] = None
        self.start += 1
        if self.groups is None:
            self.groups = self._groups()  # the first block from now on: kept in groups, once per block
        return self.start == len(self.points)

    def view(self, cutoff, first):
        """Return (serial, the chunks or None unless every point is held and inside the window, the segments of the
        points held in order: lists of points, and ((serial, group number), chunks, points) of the groups whole
        inside the window). `first`: no point of the window is in the body before this block's.

        Call with the window's lock held: what is returned does not change with later appends and trims.
        """
        if self.chunks and self.start == 0 and self.min_ts >= cutoff:
            # Its points are needed only as the first text of the columns: copying the list of every block touched
            # each of the window's 7200 points, most of them out of the CPU's caches a while after the last row.
            return self.serial, self.chunks, [self.points[:] if first else None]
        segments = []
        position = self.start
        for number, group in enumerate(self.groups or ()):
            begin = number * GROUP_POINTS
            if group is None or begin < position or group[0] < cutoff:
                continue
            if begin > position:
                segments.append(self.points[position:begin])
            segments.append(((self.serial, number), group[1], self.points[begin : begin + GROUP_POINTS]))
            position = begin + GROUP_POINTS
        segments.append(self.points[position:])
        return self.serial, None, segments


def block_views(blocks, cutoff):
    """Return the view() of each of the window's `blocks` for history_gzip. Call with the window's lock held."""
    views = []
    first = True
    for block in blocks:
        view = block.view(cutoff, first)
        views.append(view)
        if first:
            first = view[1] is None and not any(
                point.ts >= cutoff
                for segment in view[2]
                for point in (segment if type(segment) is list else segment[2])
            )
    return views


def _parts(views, cutoff, runs):
    """Given Block.view()s in window order and the runs of the previous body, return (the parts of the body: each a
    Run per column or each column's text, the runs by the keys of their blocks or groups).

    A column's first part is always text (the chunks start with a comma). Whole blocks and groups are never in the
    same run: the long run of whole blocks stays the same while the groups at both ends come and go.
    """
    parts = []
    spans = []  # [index in parts, keys, chunks of each]
    for serial, chunks, segments in views:
        if chunks is not None:
            segments = [(serial, chunks, segments[0])]
        for segment in segments:
            if isinstance(segment, list) or not parts:
                points = segment if isinstance(segment, list) else segment[2]
                included = [point.frame for point in points if point.ts >= cutoff]
                if included:
                    parts.append(column_texts(included))
                continue
            key, chunks, _points = segment
            last = spans[-1] if spans else None
            if last and last[0] == len(parts) - 1 and type(last[1][-1]) is type(key):
                last[1].append(key)
                last[2].append(chunks)
            else:
                parts.append(None)
                spans.append([len(parts) - 1, [key], [chunks]])
    kept = {}
    for index, keys, chunk_lists in spans:
        key = tuple(keys)
        found = runs.get(key) or [Run(column) for column in zip(*chunk_lists, strict=True)]
        kept[key] = parts[index] = found
    return parts, kept


def history_gzip(head, views, cutoff, runs):
    """Return (the gzip bytes of head + '"points":{"id":[...],...}}' (head: '{"vehicle":...,'), the runs to pass
    next time).

    `views` are Block.view() in window order: the chunks of consecutive whole blocks are used as Runs (after the
    first part of a column: they start with a comma), else the points with ts >= cutoff are encoded now. `runs`:
    what the previous call returned (the same blocks' runs are reused), {} at first.
    """
    parts, runs = _parts(views, cutoff, runs)
    body = GzipBody()
    body.text(head + '"points":{')
    for index, key in enumerate(POINT_KEYS):
        body.text(f'{"," if index else ""}"{key}":[')
        for number, part in enumerate(parts):
            piece = part[index]
            if isinstance(piece, Run):
                body.run(piece)
            else:
                if number:
                    body.text(",")
                body.text(piece)
        body.text("]")
    body.text("}}")
    return body.finish(), runs
