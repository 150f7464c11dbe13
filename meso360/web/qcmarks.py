"""QC marks of the charts: the flagged points of the charted variables, read incrementally from the QC sidecars
(data_dir/YYYYMMDD_qc.txt), for the live window (its history and SSE `qc` events) and for a stored day's answer.

A mark is [ts, key, flag, checks]: the GPS time of the row (epoch seconds), the series key of the API ("t"), the
worst flag of that variable (1 suspect, 2 bad) and the checks that gave it ("step", "range+step"). A row without a
GPS time has no mark (the charts place such a row by its arrival, the sidecar cannot be matched to it by time).
"""

import bisect
import calendar
import collections
import datetime as dt
import json
import os
import threading

from meso360.datafile import read_complete_text
from meso360.qc.flags import BAD, COLUMNS, SUSPECT, VARIABLE_CHECKS
from meso360.qc.sidecar import sidecar_path
from meso360.web.points import SERIES

CHARTED = ("t", "td", "wspd", "wdir", "pressure")  # the series drawn on the dashboard's charts
# (series key, index of its cell in a sidecar line), in CHARTED order
_CELLS = tuple((key, COLUMNS.index(column)) for key, column in SERIES if key in CHARTED)
_FLAGGED_DIGITS = frozenset(f"{SUSPECT}{BAD}")
_TIME_FIELDS = ((0, 4), (5, 2), (8, 2), (11, 2), (14, 2), (17, 2))  # year, month, day, hour, minute, second
MAX_LIVE_BATCHES = 256  # qc events kept for streams that resume (Last-Event-ID); older ones come with a history
READ_CHUNK_BYTES = 64 * 1024  # as the data reader's: below glibc's mmap threshold, reused (1 MiB grew the RSS)


def _seconds(text):
    """Given the sidecar's GPS time (2026-11-30T17:52:28Z or nan), return epoch seconds or None."""
    if len(text) != 20 or text[4::3] != "--T::Z":  # the separators at 4, 7, 10, 13, 16 and 19
        return None
    try:
        fields = tuple(int(text[start : start + width]) for start, width in _TIME_FIELDS)
        dt.datetime(*fields)  # noqa: DTZ001  validates the date only; the time is computed in UTC below
    except ValueError:
        return None
    return calendar.timegm(fields)


def cell_mark(cell):
    """Given a variable's cell of flag digits, return (worst flag, names of the checks at that flag), or None
    when no check flagged it (good or not checked)."""
    worst = max((int(digit) for digit in cell if digit in _FLAGGED_DIGITS), default=None)
    if worst is None:
        return None
    names = [name for name, digit in zip(VARIABLE_CHECKS, cell, strict=False) if digit == str(worst)]
    return worst, "+".join(names)


def line_marks(line):
    """Given a sidecar line, return the marks of its charted variables ([] when none is flagged or the line is not
    a row with a GPS time). O(1): a few string tests for the common clean row."""
    fields = line.split(",")
    if len(fields) != len(COLUMNS):
        return []
    cells = [(key, fields[index]) for key, index in _CELLS if "1" in fields[index] or "2" in fields[index]]
    if not cells:
        return []
    seconds = _seconds(fields[1])
    if seconds is None:
        return []
    marks = []
    for key, cell in cells:
        mark = cell_mark(cell)
        if mark is not None:
            marks.append([seconds, key, *mark])
    return marks


class SidecarTail:
    """One sidecar read from a saved offset: new_marks() parses only the complete lines appended since the last
    call; a sidecar replaced (meso360ctl qc DAY rewrites it atomically) or cut shorter is read again from the start."""

    def __init__(self, path):
        self.path = path
        self.offset = 0
        self.inode = None

    def new_marks(self):
        """Return (marks of the new complete lines, True when the sidecar was read again from its start)."""
        try:
            info = os.stat(self.path)
        except FileNotFoundError:
            return [], False
        restarted = self.inode is not None and (info.st_ino != self.inode or info.st_size < self.offset)
        if restarted or self.inode is None:
            self.inode, self.offset = info.st_ino, 0
        marks = []
        while info.st_size > self.offset:
            try:
                text, offset = read_complete_text(self.path, self.offset, READ_CHUNK_BYTES)
            except FileNotFoundError:
                break
            if offset == self.offset:
                break
            self.offset = offset
            for line in text.splitlines():
                cells = line.split(",", 4)[-1]  # the variables' cells, after row, gps_time, motion and gps
                if "1" in cells or "2" in cells:  # a clean row costs this test only
                    marks.extend(line_marks(line))
        return marks, restarted


class LiveQcMarks:
    """The marks of the live window, learned by the data reader's thread from the sidecars of the files it follows.

    Each poll that learns marks makes a batch: its sequence number, the window's last id when it was learned and
    its SSE `qc` event. A stream sends the batches before the rows appended after them, so a client that got row L
    got every batch learned before L was appended, and one resuming after L needs only the batches from L on.
    """

    def __init__(self, window):
        self.window = window
        self.lock = threading.Lock()
        self.tails = {}  # data path -> SidecarTail
        # (ts, key) -> [ts, key, flag, checks], in the order learned (about time order); learned again: replaced
        self.marks = collections.OrderedDict()
        self.batches = collections.deque()  # (seq, after_id, frame bytes)
        self.seq = 0
        self._text = (0, "[]")  # (seq, JSON of the marks) of the history

    def poll(self, data_paths):
        """Read what the sidecars of `data_paths` gained; record a batch and wake the streams when marks came."""
        self.tails = {path: self.tails.get(path) or SidecarTail(sidecar_path(path)) for path in data_paths}
        learned = []
        for tail in self.tails.values():
            marks, _restarted = tail.new_marks()  # a rewritten sidecar's marks come again: the browser merges them
            learned.extend(marks)
        if not learned:
            return 0
        frame = f"event: qc\ndata: {json.dumps(learned, separators=(',', ':'))}\n\n".encode()
        with self.lock:
            self.seq += 1
            self.batches.append((self.seq, self.window.last_id, frame))
            while len(self.batches) > MAX_LIVE_BATCHES:
                self.batches.popleft()
            self.marks.update(((mark[0], mark[1]), mark) for mark in learned)
            self._trim()
        # No wake-up of the streams of their own: the batch goes out with the next row (or keep-alive), in the same
        # write, instead of a wake-up round of every stream per batch.
        return len(learned)

    def _trim(self):
        newest = self.window.newest_gps_ts
        if newest is None:
            return
        cutoff = newest - self.window.history_seconds
        while self.marks and next(iter(self.marks))[0] < cutoff:
            self.marks.popitem(last=False)  # the oldest learned first: a few per poll, never the whole window

    def history_text(self):
        """Return the JSON list of the window's marks (encoded once per batch)."""
        with self.lock:
            if self._text[0] != self.seq:
                self._text = (self.seq, json.dumps(list(self.marks.values()), separators=(",", ":")))
            return self._text[1]

    def resume_seq(self, last_id):
        """Return the sequence number after which a stream must send batches: None (a new stream, whose history
        holds the marks so far) gets the current one; a stream resuming after row `last_id` those learned since."""
        with self.lock:
            if last_id is None:
                return self.seq
            for seq, after_id, _frame in self.batches:
                if after_id >= last_id:
                    return seq - 1
            return self.seq

    def frames_after(self, seq, upto=None):
        """Return (the newest sequence number, the `qc` frames of the batches after `seq`, up to `upto` if given)."""
        if seq == self.seq:
            return seq, b""  # the common case, once per row: no lock
        with self.lock:
            last = self.seq if upto is None else upto
            return last, b"".join(frame for number, _after, frame in self.batches if seq < number <= last)


class DayQcMarks:
    """The flagged rows of stored days' sidecars, each read once and extended with what was appended since (the
    newest day's grows every second); a few days kept."""

    KEPT_DAYS = 4

    def __init__(self):
        self.lock = threading.Lock()
        self.days = collections.OrderedDict()  # sidecar path -> (SidecarTail, marks)

    def marks(self, data_path):
        """Return the marks of every flagged row of the day of `data_path` so far ([] without a sidecar)."""
        path = sidecar_path(data_path)
        with self.lock:
            tail, marks = self.days.pop(path, None) or (SidecarTail(path), [])
            new, restarted = tail.new_marks()
            marks = new if restarted else marks + new
            self.days[path] = (tail, marks)
            while len(self.days) > self.KEPT_DAYS:
                self.days.popitem(last=False)
            return marks

    @staticmethod
    def stamp(data_path):
        """Return what identifies the sidecar's content now (inode, size, mtime), for the answers' cache key."""
        try:
            info = os.stat(sidecar_path(data_path))
        except FileNotFoundError:
            return None
        return info.st_ino, info.st_size, info.st_mtime_ns


def _stands_out(values, first, second):
    """Of the two points of a bucket, return the one whose value is farther from its neighbours' (a spike, a value
    beyond a limit); the one with a value when the other has none."""
    if values[first] is None or values[second] is None:
        return second if values[first] is None else first
    neighbours = [values[i] for i in (first - 1, second + 1) if 0 <= i < len(values) and values[i] is not None]
    if not neighbours:
        return first
    reference = sum(neighbours) / len(neighbours)
    return first if abs(values[first] - reference) >= abs(values[second] - reference) else second


def marks_for_points(columns, total_rows, marks):
    """Given an answer's columnar points, the day's row count and its marks, return the marks placed on the points.

    Every row drawn: a mark stays on its row (matched by GPS time). Downsampled (two points per bucket, each
    series' minimum and maximum): each bucket keeps, per series, the worst flag of its rows (and the checks of
    the first row with it), on the one of its two points that stands out from its neighbours.
    """
    stamps = columns["ts"]
    if not marks or not stamps:
        return []
    if total_rows <= len(stamps):
        drawn = set(stamps)
        return [mark for mark in marks if mark[0] in drawn]
    starts = stamps[0::2]
    worst = {}  # (bucket, key) -> mark
    for mark in marks:
        bucket = bisect.bisect_right(starts, mark[0]) - 1
        if bucket < 0:
            continue
        found = worst.get((bucket, mark[1]))
        if found is None or mark[2] > found[2]:
            worst[(bucket, mark[1])] = mark
    placed = []
    for (bucket, key), (_ts, _key, flag, checks) in sorted(worst.items()):
        first = 2 * bucket
        second = min(first + 1, len(stamps) - 1)
        index = _stands_out(columns[key], first, second)
        placed.append([stamps[index], key, flag, checks])
    return placed
