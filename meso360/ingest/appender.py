"""Durable appends to the daily files (ingest alone writes them): one write per line, fsync, torn-line repair."""

import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)


def repair_torn_tail(path):
    """Cut a partial last line (left by a power cut) off `path`; return the bytes removed (0 if intact)."""
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return 0
    try:
        size = os.fstat(fd).st_size
        if size == 0:
            return 0
        tail_start = max(0, size - 65536)
        os.lseek(fd, tail_start, os.SEEK_SET)
        tail = os.read(fd, size - tail_start)
        if tail.endswith(b"\n"):
            return 0
        newline = tail.rfind(b"\n")
        keep = tail_start + newline + 1 if newline >= 0 else 0
        os.ftruncate(fd, keep)
        os.fsync(fd)
        return size - keep
    finally:
        os.close(fd)


def _fsync_directory(directory):
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class DailyAppender:
    """Durable appends to daily CSV files: header once per file, one write per line, fsync per batch.

    Keeps the current file open; a torn last line of a file is repaired the first time it is opened.
    """

    def __init__(self, header):
        self._header = header
        self._path = None
        self._fd = None

    @property
    def path(self):
        return self._path

    def _open(self, path):
        self.close()
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        removed = repair_torn_tail(path)
        if removed:
            log.warning("repaired %s: removed a torn last line of %d bytes (power cut?)", path, removed)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL, 0o644)
            created = True
        except FileExistsError:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND)
            created = False
        try:
            if created or os.fstat(fd).st_size == 0:
                _write_all(fd, (self._header + "\n").encode())
                os.fsync(fd)
                _fsync_directory(path.parent)
        except OSError:
            os.close(fd)
            if created:
                # Leave no header-less file behind (disk full while writing the header).
                path.unlink(missing_ok=True)
            raise
        self._path, self._fd = path, fd

    def append(self, path, lines):
        """Append `lines` (without newlines) to `path` and fsync; return the file size afterwards.

        Raise OSError (disk full, read-only) after cutting off any partly written line.
        """
        if self._path != Path(path) or self._fd is None:
            self._open(path)
        try:
            for line in lines:
                _write_all(self._fd, (line + "\n").encode())
            os.fsync(self._fd)
        except OSError:
            # A partial line must never stay in the file: cut back to the last complete line.
            fd, self._fd, failed_path = self._fd, None, self._path
            os.close(fd)
            repair_torn_tail(failed_path)
            raise
        return os.fstat(self._fd).st_size

    def close(self):
        if self._fd is not None:
            os.close(self._fd)
        self._fd = None
        self._path = None


def _write_all(fd, data):
    """os.write until all of `data` is written (a short write is possible on a nearly full disk)."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]
