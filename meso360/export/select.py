"""The rows of a time range, read from the daily files of its days with the one data-file parser (RowReader)."""

import dataclasses
from pathlib import Path

from meso360.datafile import RowReader, read_complete_lines


@dataclasses.dataclass
class Chunk:
    """The rows of one daily file within the range: their GPS times (epoch seconds), lines and 17 columns."""

    path: Path
    seconds: list
    lines: list
    rows: list


def files_of_range(data_dir, time_range):
    """Return the existing daily files (YYYYMMDD.txt, named by GPS date) of the range's days, oldest first."""
    paths = (Path(data_dir) / f"{day:%Y%m%d}.txt" for day in time_range.days())
    return [path for path in paths if path.is_file()]


def chunk_of_file(path, time_range, reader):
    """Given a daily file, return the Chunk of its complete rows whose GPS time is within the range.

    Rows without a valid GPS time cannot be placed in time and are left out; a torn last line is not complete.
    """
    lines, _offset = read_complete_lines(path)
    chunk = Chunk(path, [], [], [])
    start, end = time_range.start_seconds, time_range.end_seconds
    for line in lines:
        parsed = reader.parse(line)
        if parsed is None or parsed[0] is None or not start <= parsed[0] <= end:
            continue
        chunk.seconds.append(parsed[0])
        chunk.lines.append(line)
        chunk.rows.append(parsed[1])
    return chunk


def chunks_of_range(paths, time_range, on_file_done=None):
    """Yield the non-empty Chunk of each file in `paths`, in order; call on_file_done(path) after each file."""
    reader = RowReader()
    for path in paths:
        chunk = chunk_of_file(path, time_range, reader)
        if on_file_done is not None:
            on_file_done(path)
        if chunk.lines:
            yield chunk
