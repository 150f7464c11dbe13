"""The fleet page's Bottle app: the page, the snapshot, the stream's overflow answer, the synced files, statics.

The map, its boundaries and the style are the vehicle dashboard's own files (meso360/web/static, carried by the
meso360-base package too), served under the same /static/ paths; the page's own files are under /fleet-static/.
"""

import functools
import time
from pathlib import Path

import bottle

from meso360.base.web.broadcast import MAX_VIEWERS, STREAM_PATH
from meso360.web.app import DATA_FILE_RE, STATIC_DIR, _error_handler, _SecurityHeaders
from meso360.web.confine import regular_file_inside
from meso360.web.responses import json_error

PACKAGE_DIR = Path(__file__).resolve().parent
FLEET_STATIC_DIR = PACKAGE_DIR / "static"
HEALTH_STALL_S = 30.0  # /healthz fails once the poller has not finished a pass for this long


def _static(root, path, cache):
    answer = bottle.static_file(path, root=str(root))
    if answer.status_code == 200:
        answer.set_header("Cache-Control", cache)
    return answer


def _snapshot(poller):
    if poller.body is None:
        return json_error(503, "no snapshot yet: the fleet poller has not finished its first pass")
    return bottle.HTTPResponse(poller.body, headers={"Content-Type": "application/json", "Cache-Control": "no-store"})


def _download(fleet, vehicle, name):
    """A synced day's file of a vehicle: a configured vehicle, a strict file name, a regular file really inside
    DATA_ROOT/VEHICLE/data (or support): no other path, no symlink out of it."""
    match = DATA_FILE_RE.fullmatch(name)
    if match is None or vehicle not in {v.name for v in fleet.vehicles}:
        return json_error(404, f"no such file: {vehicle}/{name}")
    directory = fleet.vehicle_dir(vehicle) / ("support" if match.group(2) else "data")
    if not regular_file_inside(directory, name):
        return json_error(404, f"no such file: {vehicle}/{name}")
    answer = bottle.static_file(name, root=str(directory), mimetype="text/csv", download=f"{vehicle}_{name}")
    if answer.status_code >= 400:
        return json_error(404, f"no such file: {vehicle}/{name}")
    answer.set_header("Cache-Control", "no-cache")
    return answer


def _healthz(poller, stop_event):
    bottle.response.content_type = "text/plain; charset=utf-8"
    bottle.response.set_header("Cache-Control", "no-store")
    stalled = time.monotonic() - poller.heartbeat
    if stop_event.is_set() or not poller.heartbeat or stalled > HEALTH_STALL_S:
        bottle.response.status = 503
        return "unhealthy: stopping\n" if stop_event.is_set() else f"unhealthy: no poller pass for {stalled:.0f} s\n"
    return "ok\n"


def create_app(fleet, poller, stop_event):
    """Given the FleetConfig, the FleetPoller and the stop event, return the WSGI app."""
    app = bottle.Bottle(catchall=True, autojson=False)
    for status in (400, 404, 405, 413, 431, 500, 503):
        app.error_handler[status] = _error_handler
    app.get("/", callback=lambda: _static(FLEET_STATIC_DIR, "fleet.html", "no-cache"))
    app.get("/fleet-static/<path:path>", callback=lambda path: _static(FLEET_STATIC_DIR, path, "no-cache"))
    app.get("/static/<path:path>", callback=lambda path: _static(STATIC_DIR, path, "no-cache"))
    app.get("/favicon.ico", callback=lambda: _static(STATIC_DIR, "favicon.ico", "public, max-age=86400"))
    app.get("/api/fleet", callback=functools.partial(_snapshot, poller))
    # Reached only when the event loop did not take the stream (broadcast.py, web/fanout.py): every slot is taken.
    app.get(STREAM_PATH, callback=lambda: json_error(503, f"too many live viewers (limit {MAX_VIEWERS})"))
    app.get("/data/<vehicle>/<name>", callback=functools.partial(_download, fleet))
    app.get("/healthz", callback=functools.partial(_healthz, poller, stop_event))
    return _SecurityHeaders(app)
