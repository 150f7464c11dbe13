"""The rows of a time range, read from the daily files of its days with the one data-file parser (RowReader)."""

import dataclasses
import itertools
from pathlib import Path

from meso360.datafile import RowReader, parse_obs_line, read_complete_text

CHUNK_BYTES = 1 << 20  # read and hand on about 10,000 rows at a time: memory stays flat over a month


@dataclasses.dataclass
class Chunk:
    """Rows of one daily file within the range, in file order: their GPS times (epoch seconds) and lines."""

    path: Path
    seconds: list
    lines: list
    qc: object = None  # with --qc: one tuple of flags per row (export/qc_flags.py)

    @property
    def rows(self):
        """The 17 columns of each line."""
        return [parse_obs_line(line) for line in self.lines]


def files_of_range(data_dir, time_range):
    """Return the existing daily files (YYYYMMDD.txt, named by GPS date) of the range's days, oldest first."""
    paths = (Path(data_dir) / f"{day:%Y%m%d}.txt" for day in time_range.days())
    return [path for path in paths if path.is_file()]


def chunk_of_lines(path, lines, time_range, reader):
    """Given lines of a daily file, return the Chunk of those whose GPS time is within the range.

    Rows without a valid GPS time cannot be placed in time and are left out, as the header and malformed lines.
    """
    chunk = Chunk(path, [], [])
    start, end = time_range.start_seconds, time_range.end_seconds
    for line in lines:
        parsed = reader.parse(line)
        if parsed is not None and parsed[0] is not None and start <= parsed[0] <= end:
            chunk.seconds.append(parsed[0])
            chunk.lines.append(line)
    return chunk


def chunks_of_file(path, time_range, reader):
    """Yield the Chunks of a daily file's complete lines (a torn last line is not complete), CHUNK_BYTES at a time."""
    offset = 0
    while True:
        text, offset_after = read_complete_text(path, offset, CHUNK_BYTES)
        if offset_after == offset:  # the end, or a line longer than a block: read to the end
            text, offset_after = read_complete_text(path, offset)
            if offset_after == offset:
                return
        offset = offset_after
        yield chunk_of_lines(path, text.splitlines(), time_range, reader)


def chunks_of_range(paths, time_range, on_file_done=None):
    """Yield the non-empty Chunks of the files in `paths`, in order; call on_file_done(path) after each file."""
    reader = RowReader()
    for path in paths:
        for chunk in chunks_of_file(path, time_range, reader):
            if chunk.lines:
                yield chunk
        if on_file_done is not None:
            on_file_done(path)


def unless_empty(chunks):
    """Return an iterator over `chunks` once the first has been read, or None when there is none (nothing is lost)."""
    first = next(chunks, None)
    return None if first is None else itertools.chain([first], chunks)
