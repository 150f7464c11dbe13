"""The cold path of a past day: only each bucket's extremes kept, a large file summarised in two processes at once
(this one and the dayrange helper process)."""

import bisect
import json
import logging
import operator
import os
import subprocess
import sys
import time

from meso360.datafile import OBS_COLUMNS
from meso360.web.dayrange import SINGLE, range_extremes
from meso360.web.daysample import buckets, tidy
from meso360.web.points import SERIES_KEYS

log = logging.getLogger(__name__)

COUNT_BLOCK_BYTES = 1 << 16  # a day's lines are counted in blocks this small: reused heap, no page faults


def _count_lines(path):
    """Return (header lines, newlines counted at the end of each block of COUNT_BLOCK_BYTES, byte offset after
    the last complete line) of a daily file."""
    counts, lines, end, position = [], 0, 0, 0
    with open(path, "rb") as file:
        head = file.read(len(OBS_COLUMNS[0]) + 1)
        file.seek(0)
        for block in iter(lambda: file.read(COUNT_BLOCK_BYTES), b""):
            found = block.count(b"\n")
            if found:
                lines += found
                end = position + block.rindex(b"\n") + 1
            counts.append(lines)
            position += len(block)
    return int(head == OBS_COLUMNS[0].encode() + b","), counts, end


def _line_offset(path, counts, line):
    """Given a file and its _count_lines() counts, return the byte offset at which line number `line` starts."""
    block = bisect.bisect_left(counts, line)  # the first block that ends at or after that line's newline
    if block == len(counts):
        return os.path.getsize(path)
    before = counts[block - 1] if block else 0
    with open(path, "rb") as file:
        file.seek(block * COUNT_BLOCK_BYTES)
        data = file.read(COUNT_BLOCK_BYTES)
    index = -1
    for _ in range(line - before):
        index = data.find(b"\n", index + 1)
        if index < 0:  # the file changed since it was counted: the row count check rejects the parts
            return os.path.getsize(path)
    return block * COUNT_BLOCK_BYTES + index + 1


# The cold path of a large day is split in two: the end summarised by a helper process (on the other core)
# while this one summarises the start. Below this size a process start costs more than it saves.
SPLIT_MIN_BYTES = 2 * 1024 * 1024
# The helper is a new interpreter, ready about 30 ms after it is started: this process takes a little more.
SPLIT_SHARE = 0.55
HELPER_COMMAND = (sys.executable, "-m", "meso360.web.dayrange")
HELPER_TIMEOUT_S = 60.0
_HELPER_FAILED = object()


def _start_helper(path):
    """Start the helper process for a day file (it waits for its byte range); None when it cannot (logged)."""
    try:
        return subprocess.Popen(  # noqa: S603  argv list, no shell: our helper, a data file
            [*HELPER_COMMAND, path], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
    except OSError as error:
        log.warning("day history: helper process not started (%s); reading the day in this process", error)
        return None


def _give_range(helper, begin, end, size):
    """Send the helper its byte range; False when it is gone already (logged)."""
    try:
        helper.stdin.write(f"{begin} {end} {size}\n".encode())
        helper.stdin.flush()  # one line: the helper starts on it (communicate() closes the pipe later)
    except OSError as error:
        log.warning("day history: helper process gone (%s); reading the day in this process", error)
        return False
    return True


def _helper_answer(helper):
    """Return the helper's range_extremes() answer (None included), or _HELPER_FAILED (logged)."""
    try:
        out, err = helper.communicate(timeout=HELPER_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        log.warning("day history: helper process gave no answer in %.0f s; reading in this process", HELPER_TIMEOUT_S)
        return _HELPER_FAILED
    if helper.returncode != 0:
        reason = err.decode(errors="replace").strip().splitlines()[-1:] or [f"exit status {helper.returncode}"]
        log.warning("day history: helper process failed (%s); reading in this process", reason[0])
        return _HELPER_FAILED
    try:
        return json.loads(out)
    except ValueError:
        log.warning("day history: helper process answered garbage; reading in this process")
        return _HELPER_FAILED


def _stop_helper(helper):
    """Stop the helper if it still runs (not needed, or no answer in time) and collect its exit status."""
    if helper.poll() is None:
        helper.kill()
    helper.communicate()


def stream_downsample(path, max_points):
    """Return (total rows, columnar points) of a daily file read chunk by chunk, or None for the careful path.

    The cold path for a day larger than `max_points`: only each bucket's extremes are kept, never the
    day's columns; a large file is summarised in two parts at once, by this process and a helper process
    started before the file's lines are counted. Values are rounded to float32 (but lat, lon) as ParsedDay
    keeps them, and buckets are cut as downsample() cuts them, so the answer equals
    downsample(*read_day(path), max_points).
    None (the caller reads the day whole) when not every line is a row with a GPS fix in time order.
    """
    began = time.monotonic()
    helper = _start_helper(path) if os.path.getsize(path) >= SPLIT_MIN_BYTES else None
    try:
        header, counts, end = _count_lines(path)
        total = (counts[-1] if counts else 0) - header
        if total <= max_points:
            return None
        size, rows, single_last = buckets(total, max_points)
        split_row = round(total * SPLIT_SHARE / size) * size  # a bucket edge
        split = _line_offset(path, counts, header + split_row) if helper is not None else end
        if helper is not None and 0 < split_row < total and _give_range(helper, split, end, size):
            first = range_extremes(path, 0, split, size)
            second = _helper_answer(helper) if first is not None else None
            if second is _HELPER_FAILED:
                second = range_extremes(path, split, end, size)
            parts = [first, second]
        else:
            parts = [range_extremes(path, 0, end, size)]
    finally:
        if helper is not None:
            _stop_helper(helper)
    if None in parts:
        return None
    edges = [stamp for part in parts for stamp in part["edges"]]
    if sum(part["rows"] for part in parts) != total or not all(map(operator.le, edges, edges[1:])):
        return None
    if single_last:
        edges.pop()
    columns = {"id": rows, "ts": edges, "fix": [True] * len(rows)}
    for index, key in enumerate(SERIES_KEYS):
        extremes = [value for part in parts for value in part["extremes"][index]]
        if single_last:
            extremes.pop()
        columns[key] = tidy(extremes, "f" if index in SINGLE else "d")
    how = "in two processes" if len(parts) == 2 else "in one process"
    log.info("day history: %s, %d rows read %s in %.0f ms", os.path.basename(path), total, how, _ms_since(began))
    return total, columns


def _ms_since(began):
    return 1000 * (time.monotonic() - began)
