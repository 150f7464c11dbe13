"""GET /api/export: a time range of the daily files as meso360ctl export's CSV or JSON, for a logged-in operator."""

import functools
import re

import bottle

from meso360.export import select, text_formats, timerange
from meso360.export.variables import ExportInfo
from meso360.web.control import READ_ONLY_MESSAGE
from meso360.web.responses import json_error
from meso360.web.sessions import SESSION_COOKIE

MAX_RANGE_DAYS = 31  # a month of 1 Hz rows: about 250 MB of CSV, streamed
CONTENT_TYPES = {"csv": "text/csv; charset=utf-8", "json": "application/json"}


def _asked_range(query):
    """Return the TimeRange of the query's from and to; raise TimeRangeError with a message for the client."""
    start_text, end_text = query.get("from", ""), query.get("to", "")
    if not start_text or not end_text:
        raise timerange.TimeRangeError("give from and to, ISO 8601 UTC (2026-11-30T00:00:00Z) or a day (2026-11-30)")
    time_range = timerange.parse_range(start_text, end_text)
    if (time_range.end - time_range.start).total_seconds() > MAX_RANGE_DAYS * 86400:
        raise timerange.TimeRangeError(f"the range is longer than {MAX_RANGE_DAYS} days: use meso360ctl export")
    return time_range


def _export(services):
    if not services.config.web.password_hash:
        return json_error(403, READ_ONLY_MESSAGE)
    if services.sessions.get(bottle.request.get_cookie(SESSION_COOKIE)) is None:
        return json_error(401, "not logged in")
    format_name = bottle.request.query.get("format", "csv")
    if format_name not in CONTENT_TYPES:
        return json_error(400, f"format must be one of {', '.join(CONTENT_TYPES)}, not {format_name[:20]!r}")
    try:
        time_range = _asked_range(bottle.request.query)
    except timerange.TimeRangeError as error:
        return json_error(400, str(error))
    general = services.config.general
    paths = select.files_of_range(general.data_dir, time_range)
    chunks = select.unless_empty(select.chunks_of_range(paths, time_range))
    start, end = timerange.utc_text(time_range.start), timerange.utc_text(time_range.end)
    if chunks is None:
        return json_error(404, f"no rows from {start} to {end}")
    info = ExportInfo(general.vehicle, general.institution, time_range, f"GET /api/export {start} {end}")
    pieces = text_formats.csv_pieces(chunks) if format_name == "csv" else text_formats.json_pieces(chunks, info)
    name = re.sub(r"[^A-Za-z0-9_.-]", "", f"{general.vehicle}_{start}_{end}.{format_name}")  # a safe header value
    headers = {
        "Content-Type": CONTENT_TYPES[format_name],
        "Content-Disposition": f'attachment; filename="{name}"',
        "Cache-Control": "no-store",
    }
    return bottle.HTTPResponse((piece.encode() for piece in pieces), headers=headers)


def add_routes(app, services):
    """Given the Bottle app and the Services, add GET /api/export."""
    app.get("/api/export", callback=functools.partial(_export, services))
