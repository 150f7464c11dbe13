"""Read-only JSON routes: live history, stored days, status, Prometheus metrics and the health check."""

import functools
import json
import socket
import time
import zlib

import bottle

import meso360
from meso360 import alarms
from meso360.systemd_units import read_tunnel_state
from meso360.web import dayhistory
from meso360.web.responses import json_error, whole_number
from meso360.web.server import PENDING_OUTPUT_LIMIT_BYTES
from meso360.web.sessions import SESSION_COOKIE
from meso360.web.status_cache import StatusCache
from meso360.web.system_info import system_summary, url_without_credentials
from meso360.web.vehicle_metrics import (
    gauge,
    identity_metrics,
    observation_metrics,
    qc_metrics,
    qc_summary,
    today_file_metrics,
    today_qc_counts,
    tunnel_metrics,
)

GUNZIP_PIECE_BYTES = 64 * 1024


def _json_headers():
    """Mark this answer as JSON that no cache may keep."""
    bottle.response.content_type = "application/json"
    bottle.response.set_header("Cache-Control", "no-store")


def _json(document):
    _json_headers()
    return json.dumps(document, separators=(",", ":"))


def _gunzipped_pieces(gzipped):
    """Yield the decompressed `gzipped` in pieces of at most GUNZIP_PIECE_BYTES.

    A whole 2 h history is 0.7 MB uncompressed: decompressed at once for each of a hundred clients
    at the same time, it took the daemon to 240 MB.
    """
    decompressor = zlib.decompressobj(wbits=31)  # 31: a gzip header
    remaining = gzipped
    while remaining:
        piece = decompressor.decompress(remaining, GUNZIP_PIECE_BYTES)
        remaining = decompressor.unconsumed_tail
        if piece:
            yield piece
    rest = decompressor.flush()
    if rest:
        yield rest


def _encoded(raw, gzipped):
    """Answer with the gzip body when the client accepts it (raw None: decompress it for this client)."""
    bottle.response.content_type = "application/json"
    bottle.response.set_header("Cache-Control", "no-store")
    bottle.response.set_header("Vary", "Accept-Encoding")
    if "gzip" in bottle.request.get_header("Accept-Encoding", ""):
        bottle.response.set_header("Content-Encoding", "gzip")
        return gzipped
    return _gunzipped_pieces(gzipped) if raw is None else raw


def newest_point(window, now):
    """Return the newest point of the window with its age in seconds (host clock), or None."""
    point = window.newest
    if point is None:
        return None
    document = point.as_dict()
    document["age_s"] = round(now - point.ts, 1)
    return document


def status_document(services, logged_in):
    """Return the /api/status dict."""
    config = services.config
    now = time.time()
    tally = services.reader.tally
    tunnel = {"configured": config.tunnel.configured}
    tunnel.update(read_tunnel_state(str(config.general.state_dir)) or {})
    return {
        "version": meso360.__version__,
        "vehicle": config.general.vehicle,
        "host": socket.gethostname(),
        "system": system_summary(config),
        "units": services.systemd.units(),
        "systemd": {
            "available": services.systemd.available,
            "detail": services.systemd.reason,
            "source": services.systemd.source,
            "supervisor": services.systemd.supervisor,
        },
        "newest": newest_point(services.window, now),
        "today": None if tally is None else tally.summary(now),
        "qc": qc_summary(today_qc_counts(services.reader, services.qc_tally)),
        "resources": services.resources.snapshot(),
        "tunnel": tunnel,
        "control": {"enabled": bool(config.web.password_hash), "logged_in": logged_in},
        "logger_url": url_without_credentials(config.ingest.logger_url),
        "logger": logger_document(services),
        "data_dir": str(config.general.data_dir),
        "live": {
            "points": len(services.window),
            "last_id": services.window.last_id,
            "files": [path.name for path in sorted(services.reader.offsets)],
            "sse_clients": services.sse_clients,
        },
    }


def metrics_text(services):
    """Return the Prometheus text exposition of the web daemon's counters and gauges."""
    reader = services.reader
    tally = reader.tally
    summary = tally.summary(time.time()) if tally is not None else {"gaps": 0, "missing_s": 0}
    newest = newest_point(services.window, time.time())
    lines = [
        "# HELP meso360_records_written_total Observation rows read from the daily files since the web daemon started.",
        "# TYPE meso360_records_written_total counter",
        f"meso360_records_written_total {reader.rows_read}",
        "# HELP meso360_gaps_today Gaps of 2 s or more in the newest daily file.",
        "# TYPE meso360_gaps_today gauge",
        f"meso360_gaps_today {summary['gaps']}",
        "# HELP meso360_missing_seconds_today Seconds missing in the gaps of the newest daily file.",
        "# TYPE meso360_missing_seconds_today gauge",
        f"meso360_missing_seconds_today {summary['missing_s']}",
        "# HELP meso360_backfilled_rows_total Rows that arrived more than 5 s after their GPS time.",
        "# TYPE meso360_backfilled_rows_total counter",
        f"meso360_backfilled_rows_total {reader.backfilled_rows}",
    ]
    lines += identity_metrics(services.config)
    lines += observation_metrics(newest)
    lines += gauge(
        "meso360_newest_observation_age_seconds",
        "Host clock minus the time of the newest row.",
        None if newest is None else float(newest["age_s"]),
    )
    lines += today_file_metrics(reader, services.file_size)
    lines += qc_metrics(today_qc_counts(reader, services.qc_tally))
    lines += tunnel_metrics(services.config)
    lines += ["# HELP meso360_unit_active 1 when the systemd unit is active.", "# TYPE meso360_unit_active gauge"]
    for unit, active in services.systemd.active_units().items():
        lines.append(f'meso360_unit_active{{unit="{unit}"}} {int(active)}')
    lines += alarm_metrics(services)
    lines += [
        "# HELP meso360_sse_clients Connected live-stream (SSE) clients.",
        "# TYPE meso360_sse_clients gauge",
        f"meso360_sse_clients {services.sse_clients}",
    ]
    return "\n".join(lines) + "\n"


def logger_document(services):
    """Return the /api/status "logger" dict: the newest battery voltage (logger.json) and the alarm threshold."""
    monitor = services.alarms
    state = (monitor.logger if monitor else None) or {}
    return {
        "battery_v": state.get("battery_v"),
        "record_time": state.get("record_time"),
        "battery_min_v": services.config.alarms.battery_min_v,
    }


def alarm_metrics(services):
    """Return the /metrics lines of the alarms: one gauge per alarm name, and the logger's battery voltage."""
    active = services.alarms.active_names() if services.alarms else set()
    battery = logger_document(services)["battery_v"]
    lines = [
        "# HELP meso360_alarm_active 1 while the alarm is active (GET /api/alarms says why and how to fix it).",
        "# TYPE meso360_alarm_active gauge",
    ]
    lines += [f'meso360_alarm_active{{name="{name}"}} {int(name in active)}' for name in alarms.ALARM_NAMES]
    return lines + gauge(
        "meso360_logger_battery_volts",
        "The logger's newest battery voltage (BattV).",
        None if battery is None else float(battery),
    )


def _alarms(services):
    if services.alarms is None:
        return json_error(503, "alarms are not evaluated in this server")
    return _json(services.alarms.document())


def health_problem(services):
    """Return None when the data reader and the daemon loop make progress, else what is wrong.

    The loop calls /healthz itself before it finishes a pass, so for its own check the loop test
    passes (the loop is running); for any other caller it fails once the loop is stuck.
    """
    if services.stop_event.is_set():
        return "stopping"
    if not services.reader.alive():
        return "data reader stalled (no pass for 5 s)"
    heartbeat = services.loop_heartbeat
    if heartbeat and time.monotonic() - heartbeat > services.loop_stall_s:
        return f"daemon loop stalled (no pass for {time.monotonic() - heartbeat:.0f} s)"
    return None


def _too_much_output_pending(services):
    """Return a 503 answer when the answers not yet taken by their clients already fill the budget."""
    pending = services.pending_output_bytes() if services.pending_output_bytes else 0
    if pending <= PENDING_OUTPUT_LIMIT_BYTES:
        return None
    answer = json_error(503, "busy: too many answers not yet taken by their clients; try again")
    answer.set_header("Retry-After", "5")
    return answer


def _history(services):
    busy = _too_much_output_pending(services)
    if busy:
        return busy
    qc_marks = getattr(getattr(services, "reader", None), "qc_marks", None)  # qcmarks.LiveQcMarks
    _last_id, gzipped = services.window.history_body(qc_marks.history_text() if qc_marks else "[]")
    return _encoded(None, gzipped)


def _history_of_day(services, day):
    text = bottle.request.query.get("points", str(dayhistory.DEFAULT_POINTS))
    try:
        points = whole_number(text, "points", dayhistory.MIN_POINTS, dayhistory.MAX_POINTS)
    except ValueError as error:
        return json_error(400, str(error))
    busy = _too_much_output_pending(services)
    if busy:
        return busy
    try:
        raw, gzipped = services.day_history.body(day, points)
    except FileNotFoundError:
        return json_error(404, f"no data file for day {day!r} (expected YYYYMMDD; see /api/days)")
    return _encoded(raw, gzipped)


def _days(services):
    return _json({"days": dayhistory.list_days(services.config.general.data_dir)})


def _status(services):
    logged_in = services.sessions.get(bottle.request.get_cookie(SESSION_COOKIE)) is not None
    _json_headers()
    return services.status.body(logged_in)  # built already: the same JSON _json would give


def _metrics(services):
    bottle.response.content_type = "text/plain; version=0.0.4; charset=utf-8"
    return metrics_text(services)


def _healthz(services):
    bottle.response.content_type = "text/plain; charset=utf-8"
    bottle.response.set_header("Cache-Control", "no-store")
    problem = health_problem(services)
    if problem is None:
        return "ok\n"
    bottle.response.status = 503
    return f"unhealthy: {problem}\n"


def add_routes(app, services):
    """Given the Bottle app and the Services, add the read-only JSON, metrics and health routes."""
    app.get("/api/history", callback=functools.partial(_history, services))
    app.get("/api/history/<day>", callback=functools.partial(_history_of_day, services))
    app.get("/api/days", callback=functools.partial(_days, services))
    services.status = StatusCache(functools.partial(status_document, services), services.stop_event)
    app.get("/api/status", callback=functools.partial(_status, services))
    app.get("/api/alarms", callback=functools.partial(_alarms, services))
    app.get("/metrics", callback=functools.partial(_metrics, services))
    app.get("/healthz", callback=functools.partial(_healthz, services))
