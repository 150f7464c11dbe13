"""The QC sidecar of a daily file, data_dir/YYYYMMDD_qc.txt: one line per data row (README "Quality control").

QcStream keeps it up to date as rows arrive (the ingest daemon's QC thread): it appends the lines of the rows added
since its last update and, after any stop, resumes after the sidecar's last complete line, checking the rows before
it again to rebuild the checks' memory, so a restart neither repeats nor loses a line. recompute() rewrites a
day's sidecar whole and atomically (meso360ctl qc DAY); both give the same bytes for the same rows.
"""

import datetime as dt
import os
import stat
from pathlib import Path

from meso360.atomic import write_atomically
from meso360.datafile import OBS_HEADER, RowReader, parse_obs_line, read_complete_text
from meso360.qc.checks import RowChecker
from meso360.qc.flags import HEADER, HEADER_LINE_COUNT, parse_line


def sidecar_path(data_path):
    """Given data_dir/YYYYMMDD.txt, return its sidecar data_dir/YYYYMMDD_qc.txt."""
    data_path = Path(data_path)
    return data_path.with_name(f"{data_path.stem}_qc.txt")


def time_text(seconds):
    """Given epoch seconds or None, return the sidecar's GPS time: 2026-11-30T17:52:28Z, or nan."""
    if seconds is None:
        return "nan"
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class LineMaker:
    """Data-file lines, in file order from the first, to sidecar lines (the header line of the data file is none)."""

    def __init__(self, qc):
        self.checker = RowChecker(qc)
        self.reader = RowReader()

    def lines(self, data_lines):
        """Yield the sidecar line (without newline) of each data row among `data_lines`."""
        for line in data_lines:
            if line == OBS_HEADER:
                continue
            row = parse_obs_line(line)
            seconds = None if row is None else self.reader.gps_seconds(row)
            yield self.checker.check(seconds, row).text(time_text(seconds))


def compute_text(data_path, qc):
    """Return the whole sidecar text of the complete lines of `data_path` (FileNotFoundError if it is missing)."""
    text, _ = read_complete_text(data_path)
    return HEADER + "".join(line + "\n" for line in LineMaker(qc).lines(text.splitlines()))


def _write_like(data_path, path, content):
    """Write `content` atomically at `path`, with the mode (and as root, the owner) of the data file."""
    info = os.stat(data_path)
    owner = (info.st_uid, info.st_gid) if os.geteuid() == 0 else None
    write_atomically(path, content, mode=stat.S_IMODE(info.st_mode), owner=owner)


def recompute(data_path, qc):
    """Rewrite the sidecar of `data_path` whole and atomically; return its number of rows."""
    content = compute_text(data_path, qc)
    _write_like(data_path, sidecar_path(data_path), content)
    return content.count("\n") - HEADER_LINE_COUNT


def _sidecar_rows(path):
    """Return (rows, last row line) of a sidecar, cutting a torn last line off; None when it must be rebuilt."""
    try:
        text, complete = read_complete_text(path)
    except FileNotFoundError:
        return None
    if not text.startswith(HEADER):
        return None
    if complete != path.stat().st_size:
        os.truncate(path, complete)  # a line torn by a power cut: it is written again
    lines = text[len(HEADER) :].splitlines()
    if lines and (parse_line(lines[-1]) is None or parse_line(lines[-1])[0] != len(lines)):
        return None
    return len(lines), lines[-1] if lines else None


class QcStream:
    """Keep the sidecar of one daily file up to date: update() appends the lines of the rows added since."""

    def __init__(self, data_path, qc):
        self.data_path = Path(data_path)
        self.path = sidecar_path(data_path)
        self.qc = qc
        self.maker = None  # None: to be resumed from the sidecar
        self.offset = self.written = 0
        self.identity = None

    def update(self):
        """Check the data file's new complete rows and append their lines; return how many lines were written."""
        if self.maker is None or self.identity != self._identity():
            return self._resume()
        text, self.offset = read_complete_text(self.data_path, self.offset)
        return self._append(list(self.maker.lines(text.splitlines())))

    def _identity(self):
        """The sidecar's inode and size: another writer (meso360ctl qc DAY) changes them."""
        try:
            info = self.path.stat()
        except FileNotFoundError:
            return None
        return info.st_ino, info.st_size

    def _resume(self):
        """Check every row again (the checks' memory), append those after the sidecar's last line; rewrite the
        sidecar whole when it is not one of ours, has more rows than the file, or its last line differs."""
        self.maker = LineMaker(self.qc)
        text, self.offset = read_complete_text(self.data_path)
        made = list(self.maker.lines(text.splitlines()))
        found = _sidecar_rows(self.path)
        if found is None or found[0] > len(made) or (found[0] and made[found[0] - 1] != found[1]):
            _write_like(self.data_path, self.path, HEADER + "".join(line + "\n" for line in made))
            self.written = len(made)
            self.identity = self._identity()
            return len(made)
        self.written = found[0]
        return self._append(made[self.written :])

    def _append(self, lines):
        if lines:
            with open(self.path, "a", encoding="utf-8") as file:
                file.write("".join(line + "\n" for line in lines))
                file.flush()
                os.fsync(file.fileno())
            self.written += len(lines)
        self.identity = self._identity()
        return len(lines)
