"""Tail the newest obs or support file as SSE: the last lines (read backwards from the end), then new lines."""

import json
import os
import re
import time

from meso360.datafile import OBS_HEADER, SUPPORT_HEADER, last_complete_lines, read_complete_lines
from meso360.web.confine import regular_file_inside

SOURCES = {"obs": re.compile(r"^[0-9]{8}\.txt\Z"), "support": re.compile(r"^[0-9]{8}_support\.txt\Z")}
HEADERS = {"obs": OBS_HEADER, "support": SUPPORT_HEADER}
POLL_INTERVAL_S = 0.5
BLOCK_BYTES = 16384


def newest_file(directory, source):
    """Return the path of the newest daily file of `source` in `directory`, or None.

    A symlink named like a daily file that points out of the directory is not a daily file.
    """
    try:
        names = sorted(name for name in os.listdir(directory) if SOURCES[source].match(name))
    except OSError:
        return None
    names = [name for name in names if regular_file_inside(directory, name)]
    return os.path.join(directory, names[-1]) if names else None


def _frame(source, name, offset, line):
    if line == HEADERS[source]:
        return ""  # the file's header is not a data line
    data = json.dumps({"source": source, "file": name, "line": line})
    return f"id: {name}:{offset}\nevent: line\ndata: {data}\n\n"


def _info(source, text):
    return f"event: line\ndata: {json.dumps({'source': source, 'file': None, 'line': text})}\n\n"


def _resume_point(resume, directory, source):
    """Given a Last-Event-ID "<name>:<offset>", return (path, offset), or None to start afresh.

    None unless `name` is a daily file of `source` in `directory` and `offset` the start of one of its
    lines: an id past the end (the file was replaced by a shorter one) or made up is not resumed.
    """
    if not resume or ":" not in resume:
        return None
    name, _, offset_text = resume.rpartition(":")
    if not SOURCES[source].match(name) or not regular_file_inside(directory, name):
        return None
    if not (offset_text.isascii() and offset_text.isdigit() and len(offset_text) <= 15):
        return None
    path, offset = os.path.join(directory, name), int(offset_text)
    try:
        with open(path, "rb") as file:
            if offset > os.fstat(file.fileno()).st_size:
                return None
            if offset > 0:
                file.seek(offset - 1)
                if file.read(1) != b"\n":
                    return None
    except OSError:
        return None
    return path, offset


def tail_events(source, directory, count, resume, stop_event, keepalive_s):
    """Yield SSE frames: the last `count` lines of the newest file (or from the resume point), then new lines.

    A newer daily file is followed from its start. The file is never read whole: the first lines come
    from its end, then read_complete_lines reads from the saved offset (a partial last line waits).
    """
    directory = str(directory)
    yield "retry: 3000\n\n"
    path, offset = None, 0
    resumed = _resume_point(resume, directory, source)
    if resumed:
        path, offset = resumed
    waiting_said = False
    keepalive_at = time.monotonic() + keepalive_s
    while not stop_event.is_set():
        newest = newest_file(directory, source)
        out = []
        if newest is None:
            if not waiting_said:
                out.append(_info(source, f"waiting for the first {source} file in {directory}"))
                waiting_said = True
        elif path is None:
            lines, offset = last_complete_lines(newest, count, block_bytes=BLOCK_BYTES)
            path = newest
            name = os.path.basename(path)
            out.extend(_frame(source, name, offset, line) for line in lines)
        else:
            if newest != path:
                out.extend(_new_lines(source, path, offset)[0])  # the rest of the older file first
                path, offset = newest, 0
            frames, offset = _new_lines(source, path, offset)
            out.extend(frames)
        text = "".join(out)
        if text:
            keepalive_at = time.monotonic() + keepalive_s
            yield text
        elif time.monotonic() >= keepalive_at:
            keepalive_at = time.monotonic() + keepalive_s
            yield ": keep-alive\n\n"
        stop_event.wait(POLL_INTERVAL_S)


def _new_lines(source, path, offset):
    name = os.path.basename(path)
    try:
        if os.path.getsize(path) < offset:
            offset = 0  # replaced by a shorter file
        lines, new_offset = read_complete_lines(path, offset, 1024 * 1024)
    except OSError as error:
        return [_info(source, f"cannot read {path}: {error}")], offset
    frames = []
    position = offset
    for line in lines:
        position += len(line.encode("utf-8", errors="replace")) + 1
        frames.append(_frame(source, name, position, line))
    return frames, new_offset
