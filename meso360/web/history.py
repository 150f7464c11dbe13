"""The gzip body of GET /api/history, assembled from deflate chunks of finished blocks (compressed once).

The live window's points are grouped in blocks of BLOCK_POINTS. A finished block keeps, per column, its
values' JSON text (",v1,v2,...") compressed on its own as raw deflate ending on a Z_SYNC_FLUSH (byte
aligned, not final), plus the CRC-32 and length of that text; the text itself is not kept. A body is the
gzip header, the chunks of the blocks wholly inside the window, freshly compressed text for the rest
(the brackets and keys, the first block, the open last block), a final empty block and the trailer.
"""

import math
import struct
import zlib

from meso360.web.points import POINT_KEYS

BLOCK_POINTS = 256  # a new body compresses at most two blocks afresh (about 1.2 ms); 109 kB for 7200 points
COMPRESS_LEVEL = 6
# Magic, deflate, no flags, mtime 0, no extra flags, OS unknown: as gzip.compress(..., mtime=0) but OS 255.
_GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
_DATA_PREFIX = "data: {"


def _deflate(data, finish=False):
    compressor = zlib.compressobj(COMPRESS_LEVEL, zlib.DEFLATED, -zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush(zlib.Z_FINISH if finish else zlib.Z_SYNC_FLUSH)


def column_texts(frames):
    """Given SSE frames of points ('data: {"id":1,"ts":2,...}'), return each column's values as 'v1,v2,...'.

    The values are numbers, null, true or false: no commas or quotes inside, so splitting the JSON of
    the points at commas gives '"key":value' tokens, column after column in POINT_KEYS order.
    """
    tokens = ",".join(frame[frame.index(_DATA_PREFIX) + len(_DATA_PREFIX) : -3] for frame in frames).split(",")
    count = len(POINT_KEYS)
    return [",".join(tokens[index::count]).replace(f'"{key}":', "") for index, key in enumerate(POINT_KEYS)]


class Chunk:
    """One column of a finished block: its text (",v1,v2,...") as raw deflate, its length and CRC-32 (not the text).

    `crc_shift` is the CRC of the text XOR the CRC of as many zero bytes: CRC-32 is affine, so
    crc32(text, start) == crc32(zeros, start) ^ crc_shift for any start (see _GzipBody.chunk).
    """

    __slots__ = ("deflated", "length", "crc_shift")

    def __init__(self, text):
        data = text.encode()
        self.deflated = _deflate(data)
        self.length = len(data)
        self.crc_shift = zlib.crc32(data) ^ zlib.crc32(bytes(len(data)))


class Block:
    """Consecutive points of the window; `start` of them trimmed (set to None), chunks once finished."""

    __slots__ = ("points", "start", "min_ts", "chunks")

    def __init__(self):
        self.points = []
        self.start = 0
        self.min_ts = math.inf
        self.chunks = None

    def add(self, point):
        """Add a point; return True when the block is full (then finish() it)."""
        self.points.append(point)
        if point.ts < self.min_ts:
            self.min_ts = point.ts
        return len(self.points) >= BLOCK_POINTS

    def finish(self):
        if self.start:
            self.chunks = ()  # trimmed while open (a burst of rows): never wholly inside the window again
            return
        self.chunks = [Chunk("," + text) for text in column_texts(point.frame for point in self.points)]

    def trim_one(self):
        """Forget the oldest point still held; return True when none is left."""
        self.points[self.start] = None
        self.start += 1
        return self.start == len(self.points)

    def view(self, cutoff):
        """Return (the chunks, or None unless every point is held and inside the window, the points held).

        Call with the window's lock held: what is returned does not change with later appends and trims.
        """
        whole = self.chunks and self.start == 0 and self.min_ts >= cutoff
        return (self.chunks if whole else None), self.points[self.start :]


class _GzipBody:
    """A gzip member built from text (compressed when a chunk or the end follows) and ready chunks."""

    def __init__(self, max_chunk_length):
        self.parts = [_GZIP_HEADER]
        self.pending = []
        self.crc = 0
        self.length = 0
        self.zeros = memoryview(bytes(max_chunk_length))

    def text(self, text):
        self.pending.append(text)

    def _flush(self, finish=False):
        if not self.pending and not finish:
            return
        data = "".join(self.pending).encode()
        self.pending = []
        self.parts.append(_deflate(data, finish))
        self.crc = zlib.crc32(data, self.crc)
        self.length += len(data)

    def chunk(self, chunk):
        if self.pending:
            self._flush()
        self.parts.append(chunk.deflated)
        self.crc = zlib.crc32(self.zeros[: chunk.length], self.crc) ^ chunk.crc_shift
        self.length += chunk.length

    def finish(self):
        self._flush(finish=True)
        self.parts.append(struct.pack("<II", self.crc, self.length & 0xFFFFFFFF))
        return b"".join(self.parts)


def history_gzip(head, views, cutoff):
    """Return the gzip bytes of head + '"points":{"id":[...],...}}' (head: '{"vehicle":...,').

    `views` are Block.view() in window order: the chunks are used as they are (after the first part of a
    column: they start with a comma), else the points with ts >= cutoff are encoded now.
    """
    parts = []
    max_length = 0
    for chunks, points in views:
        if chunks is not None and parts:
            parts.append(chunks)
            max_length = max(max_length, max(chunk.length for chunk in chunks))
        else:
            included = [point.frame for point in points if point.ts >= cutoff]
            if included:
                parts.append(column_texts(included))
    body = _GzipBody(max_length)
    body.text(head + '"points":{')
    for index, key in enumerate(POINT_KEYS):
        body.text(f'{"," if index else ""}"{key}":[')
        for number, part in enumerate(parts):
            piece = part[index]
            if isinstance(piece, Chunk):
                body.chunk(piece)
            else:
                if number:
                    body.text(",")
                body.text(piece)
        body.text("]")
    body.text("}}")
    return body.finish()
