"""Server-sent event routes: the live observations, the journal of the meso360 units, and file tails."""

import functools
import json
import logging
import time

import bottle

from meso360.web import journal, tail
from meso360.web.responses import MAX_NUMBER_DIGITS, json_error, whole_number

log = logging.getLogger(__name__)

KEEPALIVE_S = 15.0
MAX_OBS_CLIENTS = 100  # each holds a server thread; beyond it 503; see daemon.SERVER_THREADS
MAX_OTHER_STREAMS = 8  # log and tail streams together
RETRY_MS = 3000
MAX_EVENT_ID = 10**MAX_NUMBER_DIGITS - 1


def _sse_headers():
    bottle.response.content_type = "text/event-stream; charset=utf-8"
    bottle.response.set_header("Cache-Control", "no-cache")
    bottle.response.set_header("X-Accel-Buffering", "no")


def _resume_id():
    """Return the Last-Event-ID header (or ?last_id=) as an int, or None; raise ValueError if it is not one."""
    header = bottle.request.get_header("Last-Event-ID")
    if header is not None and header.strip():
        return whole_number(header, "the Last-Event-ID header", 0, MAX_EVENT_ID)
    text = bottle.request.query.get("last_id")
    return None if text is None or not text.strip() else whole_number(text, "last_id", 0, MAX_EVENT_ID)


def _frames_after(window, sent):
    """Given the id of the last row sent, return (the SSE text of the rows after it, the id now sent).

    An id not from this window (older than it, or from a previous server) gets a `reset` event first,
    then the whole window, so the client has no hole.
    """
    points, reset = window.after(sent)
    chunks = []
    if reset:
        chunks.append(f"event: reset\ndata: {json.dumps({'last_id': sent, 'first_id': window.first_id()})}\n\n")
        sent = window.last_id if not points else sent
    if points:
        chunks.extend(point.frame for point in points)
        sent = points[-1].id
    return "".join(chunks), sent


def obs_events(services, last_id):
    """Yield the SSE bytes for every row after `last_id` (None: from now on), then wait for more.

    Waits in window.wait_for_newer (no polling; woken once per append, or when the keep-alive is
    due); a comment line every KEEPALIVE_S keeps proxies and browsers from dropping an idle
    connection and lets the server notice a client that went away. The frames of the last append
    are encoded once and shared by every client that is up to date.
    An alarm that starts or ends (alarm_monitor.py) wakes the waiters too: event `alarm`, no id.
    QC marks learned from the sidecars (qcmarks.py) go with the next rows (or keep-alive): event `qc`, no id, sent
    before the rows appended after them.
    """
    with services.counter_lock:
        services.sse_clients += 1
    try:
        yield from _obs_frames(services, last_id)
    finally:
        with services.counter_lock:
            services.sse_clients -= 1


def _obs_frames(services, last_id):
    """The frames of obs_events, for one client (see there)."""
    window = services.window
    # Taken before the first chunk: Bottle asks for it before the headers go out, so every row
    # the reader adds once the client sees the answer begin is sent (none falls in between).
    sent = window.last_id if last_id is None else last_id
    alarms = getattr(services, "alarms", None)  # AlarmMonitor, or None (tests without one)
    alarm_version = alarms.event[0] if alarms else 0
    qc = getattr(getattr(services, "reader", None), "qc_marks", None)  # qcmarks.LiveQcMarks: `qc` events, no id
    qc_seq = qc.resume_seq(last_id) if qc else 0
    yield f"retry: {RETRY_MS}\n\n".encode()
    keepalive_at = time.monotonic() + KEEPALIVE_S
    while True:
        if window.last_id == sent and not window.closed and not (qc and qc.seq != qc_seq):
            window.wait_for_newer(sent, max(0.0, keepalive_at - time.monotonic()))
        if window.closed:
            return
        if alarms and alarms.event[0] != alarm_version:
            # An alarm started or ended (the monitor woke the window): no id, so Last-Event-ID stays the row's.
            alarm_version, frame = alarms.event
            yield frame
        after_id, latest_id, frames = window.latest_frames
        if after_id == sent:
            sent = latest_id
            keepalive_at = time.monotonic() + KEEPALIVE_S
            # the marks learned before these rows were appended go first (taken after the rows: none missed)
            qc_seq, marks = qc.frames_after(qc_seq) if qc else (0, b"")
            yield marks + frames
            continue
        text, sent = _frames_after(window, sent)
        qc_seq, marks = qc.frames_after(qc_seq) if qc else (0, b"")
        if text or marks:
            keepalive_at = time.monotonic() + KEEPALIVE_S
            yield marks + text.encode()
        elif time.monotonic() >= keepalive_at:
            keepalive_at = time.monotonic() + KEEPALIVE_S
            yield b": keep-alive\n\n"


def _counted(services, events):
    """Wrap a log/tail event generator so that it counts towards MAX_OTHER_STREAMS while it runs."""
    try:
        yield from events
    finally:
        with services.counter_lock:
            services.stream_clients -= 1


def _lines_param(default, maximum):
    """Return ?lines= (more than `maximum` is cut to it); raise ValueError if it is not a whole number."""
    text = bottle.request.query.get("lines", str(default))
    return min(whole_number(text, "lines", 0, 10**MAX_NUMBER_DIGITS - 1), maximum)


def _take_stream_slot(services):
    with services.counter_lock:
        if services.stream_clients >= MAX_OTHER_STREAMS:
            return False
        services.stream_clients += 1
        return True


def _other_stream(services, default_lines, max_lines, make_events):
    """Answer a log or tail stream: check ?lines=, take one of the MAX_OTHER_STREAMS slots, then stream.

    make_events(lines) returns the event generator; the slot is given back when it ends.
    """
    try:
        lines = _lines_param(default_lines, max_lines)
    except ValueError as error:
        return json_error(400, str(error))
    if not _take_stream_slot(services):
        return json_error(503, f"too many log/tail streams (limit {MAX_OTHER_STREAMS})")
    _sse_headers()
    return _counted(services, make_events(lines))


def _obs_stream(services):
    if services.sse_clients >= MAX_OBS_CLIENTS:
        return json_error(503, f"too many live clients (limit {MAX_OBS_CLIENTS}); try again later")
    try:
        resume = _resume_id()
    except ValueError as error:
        return json_error(400, str(error))
    _sse_headers()
    return obs_events(services, resume)


def _log_stream(services):
    cursor = bottle.request.get_header("Last-Event-ID") or None

    def events(lines):
        return journal.log_events(lines, cursor, services.stop_event, KEEPALIVE_S, services.systemd.journal_socket)

    return _other_stream(services, 200, 1000, events)


def _tail_stream(services):
    source = bottle.request.query.get("source", "obs")
    if source not in tail.SOURCES:
        return json_error(400, f"unknown tail source: {source!r} (obs or support)")
    general = services.config.general
    directory = general.data_dir if source == "obs" else general.support_dir
    resume = bottle.request.get_header("Last-Event-ID") or None

    def events(lines):
        return tail.tail_events(source, directory, lines, resume, services.stop_event, KEEPALIVE_S)

    return _other_stream(services, 120, 500, events)


def add_routes(app, services):
    """Given the Bottle app and the Services, add the live observation, journal and file-tail streams."""
    app.get("/api/stream", callback=functools.partial(_obs_stream, services))
    app.get("/api/log/stream", callback=functools.partial(_log_stream, services))
    app.get("/api/tail/stream", callback=functools.partial(_tail_stream, services))
