"""Gzip bodies joined from raw deflate pieces compressed apart (the live history's, history.py).

Each piece ends on a Z_SYNC_FLUSH (byte aligned, not final), so pieces compressed at different times can be
concatenated into one deflate stream; the gzip trailer's CRC-32 of the whole text is continued piece by piece
without the text: CRC-32 is affine in its start, so a piece keeps what it adds (Chunk.crc_shift, Run.power).
"""

import struct
import zlib

SMALL_RUN_BYTES = 16 * 1024  # a run up to this long continues a CRC over zeros (1 us), longer ones by multiply (4 us)
COMPRESS_LEVEL = 6
# The text compressed afresh for each body (a few kB per piece) and the groups are deflated with a 4 kB window and
# small tables: a compressor with zlib's default memory (about 270 kB, zeroed) took 65 us to make, ten times its work
# on a piece. Level 1: a body after a new row 0.6 -> 0.45 ms in-process, 0.5 kB larger.
FRESH_WINDOW_BITS = 12
FRESH_MEMORY_LEVEL = 4
FRESH_LEVEL = 1
_CRC_POLYNOMIAL = 0xEDB88320  # CRC-32's, reflected: bit 31 is x^0
_ZEROS = memoryview(bytes(SMALL_RUN_BYTES))
# Magic, deflate, no flags, mtime 0, no extra flags, OS unknown: as gzip.compress(..., mtime=0) but OS 255.
_GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"


def deflate(data, finish=False):
    """Return `data` as raw deflate, ended by a final block (`finish`) or a sync flush (more may follow)."""
    compressor = zlib.compressobj(FRESH_LEVEL, zlib.DEFLATED, -FRESH_WINDOW_BITS, FRESH_MEMORY_LEVEL)
    return compressor.compress(data) + compressor.flush(zlib.Z_FINISH if finish else zlib.Z_SYNC_FLUSH)


def _deflate_chunk(data):
    compressor = zlib.compressobj(COMPRESS_LEVEL, zlib.DEFLATED, -zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)


def multiply(first, second):
    """Return first * second modulo CRC-32's polynomial (zlib's multmodp), both as CRC-32 values."""
    product = 0
    bit = 1 << 31
    while first:
        if first & bit:
            product ^= second
            first ^= bit
        bit >>= 1
        second = (second >> 1) ^ _CRC_POLYNOMIAL if second & 1 else second >> 1
    return product


class Chunk:
    """One column of a finished block: its text (",v1,v2,...") as raw deflate, its length and CRC-32 (not the text).

    `crc_shift` is the CRC of the text XOR the CRC of as many zero bytes: CRC-32 is affine, so
    crc32(text, start) == crc32(zeros, start) ^ crc_shift for any start (see Run).
    """

    __slots__ = ("deflated", "length", "crc_shift")

    def __init__(self, text, small=False):
        data = text.encode()
        self.deflated = deflate(data) if small else _deflate_chunk(data)
        self.length = len(data)
        self.crc_shift = zlib.crc32(data) ^ zlib.crc32(bytes(len(data)))


class Run:
    """One column's chunks of consecutive blocks as one piece: their deflate joined, their text's length and CRC-32.

    `power` is x^(8 * length) modulo CRC-32's polynomial: a CRC continued over the text from any start is
    multiply(power, start) ^ crc (zlib's crc32_combine), so adding a run to a body costs the same at any length.
    """

    __slots__ = ("deflated", "length", "crc", "power", "shift")

    def __init__(self, chunks):
        self.deflated = b"".join(chunk.deflated for chunk in chunks)
        self.length = sum(chunk.length for chunk in chunks)
        zeros = memoryview(bytes(self.length))
        crc = 0
        for chunk in chunks:
            crc = zlib.crc32(zeros[: chunk.length], crc) ^ chunk.crc_shift
        self.crc = crc
        # crc32(zeros, start) ^ crc32(zeros, 0) == multiply(power, start); start x^0 (bit 31) gives power itself
        self.power = zlib.crc32(zeros, 1 << 31) ^ zlib.crc32(zeros)
        self.shift = crc ^ zlib.crc32(zeros)  # as Chunk.crc_shift

    def continued(self, start):
        """Return the CRC-32 of the run's text continued from `start` (the CRC of what precedes it)."""
        if self.length <= SMALL_RUN_BYTES:
            return zlib.crc32(_ZEROS[: self.length], start) ^ self.shift
        return multiply(self.power, start) ^ self.crc


class GzipBody:
    """A gzip member built from text (compressed when a run or the end follows) and ready runs."""

    def __init__(self):
        self.parts = [_GZIP_HEADER]
        self.pending = []
        self.crc = 0
        self.length = 0

    def text(self, text):
        self.pending.append(text)

    def _flush(self, finish=False):
        if not self.pending and not finish:
            return
        data = "".join(self.pending).encode()
        self.pending = []
        self.parts.append(deflate(data, finish))
        self.crc = zlib.crc32(data, self.crc)
        self.length += len(data)

    def run(self, run):
        if self.pending:
            self._flush()
        self.parts.append(run.deflated)
        self.crc = run.continued(self.crc)
        self.length += run.length

    def finish(self):
        self._flush(finish=True)
        self.parts.append(struct.pack("<II", self.crc, self.length & 0xFFFFFFFF))
        return b"".join(self.parts)
