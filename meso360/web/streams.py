"""Server-sent event routes: the journal of the meso360 units and file tails; the live observations' route answers
only what the server does not take (livecast.py)."""

import functools
import logging

import bottle

from meso360.web import journal, livecast, tail
from meso360.web.responses import MAX_NUMBER_DIGITS, json_error, whole_number

log = logging.getLogger(__name__)

KEEPALIVE_S = 15.0
MAX_OTHER_STREAMS = 8  # log and tail streams together: each holds a server thread (server.WORKER_THREADS)


def _sse_headers():
    bottle.response.content_type = "text/event-stream; charset=utf-8"
    bottle.response.set_header("Cache-Control", "no-cache")
    bottle.response.set_header("X-Accel-Buffering", "no")


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


def _obs_stream():
    """Reached only when the server did not take the stream (livecast.py): a bad resume id (400), every slot taken
    or the server stopping (503), or a HEAD request (the head alone)."""
    try:
        livecast.resume_id(bottle.request.get_header("Last-Event-ID"), bottle.request.query.get("last_id"))
    except ValueError as error:
        return json_error(400, str(error))
    if bottle.request.method == "HEAD":
        _sse_headers()
        return ""
    return json_error(503, f"too many live clients (limit {livecast.MAX_VIEWERS}); try again later")


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
    app.get(livecast.PATH, callback=_obs_stream)
    app.get("/api/log/stream", callback=functools.partial(_log_stream, services))
    app.get("/api/tail/stream", callback=functools.partial(_tail_stream, services))
