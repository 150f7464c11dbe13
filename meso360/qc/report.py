"""Counts of a sidecar's flags per check and variable (meso360ctl qc report, /metrics, /api/status)."""

import collections
import dataclasses
import threading

from meso360.datafile import read_complete_text
from meso360.qc.flags import (
    BAD,
    GPS_CHECKS,
    MOTION_NAMES,
    SUSPECT,
    VARIABLE_CHECKS,
    VARIABLES,
    parse_line,
)

LEVELS = {str(SUSPECT): "suspect", str(BAD): "bad"}  # by flag digit


@dataclasses.dataclass
class QcCounts:
    """The flags of a sidecar: rows, rows with a suspect (and none bad) or a bad flag, the motion flags, and
    flags[(check, variable, level)] for every suspect or bad flag (variable "gps" for the GPS checks)."""

    rows: int = 0
    suspect_rows: int = 0
    bad_rows: int = 0
    motion: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    flags: collections.Counter = dataclasses.field(default_factory=collections.Counter)

    def add(self, line):
        """Count one sidecar line (a header or a malformed line counts nothing)."""
        parsed = parse_line(line)
        if parsed is None:
            return
        _row, _time, motion, gps, cells = parsed
        self.rows += 1
        self.motion[MOTION_NAMES.get(motion, "unknown")] += 1
        worst = 0
        cells_of = (
            ("gps", GPS_CHECKS, gps),
            *((name, VARIABLE_CHECKS, cell) for name, cell in zip(VARIABLES, cells, strict=False)),
        )
        for variable, checks, cell in cells_of:
            for check, digit in zip(checks, cell, strict=False):
                level = LEVELS.get(digit)
                if level is not None:
                    self.flags[(check, variable, level)] += 1
                    worst = max(worst, int(digit))
        self.suspect_rows += worst == SUSPECT
        self.bad_rows += worst == BAD

    def table(self):
        """Return [(check, variable, suspect, bad)] of every check and variable flagged at least once, sorted."""
        pairs = sorted({(check, variable) for check, variable, _level in self.flags})
        return [(c, v, self.flags[(c, v, "suspect")], self.flags[(c, v, "bad")]) for c, v in pairs]

    def as_dict(self):
        return {
            "rows": self.rows,
            "suspect_rows": self.suspect_rows,
            "bad_rows": self.bad_rows,
            "motion": {name: self.motion[name] for name in MOTION_NAMES.values()},
            "flags": [
                {"check": check, "variable": variable, "suspect": suspect, "bad": bad}
                for check, variable, suspect, bad in self.table()
            ],
        }


def count_text(text):
    """Given a sidecar's text, return its QcCounts."""
    counts = QcCounts()
    for line in text.splitlines():
        counts.add(line)
    return counts


def count_file(path):
    """Return the QcCounts of the sidecar at `path` (FileNotFoundError when it is missing)."""
    return count_text(read_complete_text(path)[0])


class QcTally:
    """The counts of one sidecar at a time (today's), kept up to date by reading only what was appended."""

    def __init__(self):
        self._lock = threading.Lock()
        self._path = self._identity = None
        self._offset = 0
        self._counts = QcCounts()

    def counts(self, path):
        """Given the sidecar's path, return its QcCounts, or None when it does not exist."""
        with self._lock:
            try:
                info = path.stat()
            except OSError:
                return None
            if path != self._path or info.st_ino != self._identity or info.st_size < self._offset:
                self._path, self._identity, self._offset, self._counts = path, info.st_ino, 0, QcCounts()
            text, self._offset = read_complete_text(path, self._offset)
            for line in text.splitlines():
                self._counts.add(line)
            return self._counts
