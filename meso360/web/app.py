"""The Bottle app: its factory, the services it uses, security headers, JSON errors, pages, statics, downloads."""

import dataclasses
import json
import logging
import re
import threading
from pathlib import Path

import bottle

from meso360.qc.report import QcTally
from meso360.web import api, control, export_route, rangehistory, streams
from meso360.web.confine import regular_file_inside
from meso360.web.login_guard import LoginGuard
from meso360.web.responses import SECURITY_HEADERS, json_error
from meso360.web.vehicle_metrics import FileSize

log = logging.getLogger(__name__)

PACKAGE_DIR = Path(__file__).resolve().parent
VIEWS_DIR = PACKAGE_DIR / "views"
STATIC_DIR = PACKAGE_DIR / "static"
_VIEWS_LOOKUP = [str(VIEWS_DIR)]  # one list: Bottle caches a template by (id(lookup), name)
DATA_FILE_RE = re.compile(r"([0-9]{8})(_support)?\.txt")  # used with fullmatch
_PLACEHOLDER = "meso360: the {page} page is not installed ({path} is missing); the JSON API works: /api/status\n"


@dataclasses.dataclass
class Services:
    """What the routes use; built once by the daemon (or a test) and shared by all threads."""

    config: object
    window: object  # LiveWindow
    reader: object  # DataReader
    systemd: object  # Systemd
    resources: object  # Resources
    sessions: object  # Sessions
    day_history: object  # DayHistory
    stop_event: threading.Event
    login_guard: object = dataclasses.field(default_factory=LoginGuard)
    pending_output_bytes: object = None  # () -> bytes of answers not yet taken by their clients (set by the daemon)
    sse_clients: int = 0
    stream_clients: int = 0
    counter_lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)
    loop_heartbeat: float = 0.0  # monotonic time the daemon loop last finished a pass (0: none yet)
    loop_stall_s: float = 15.0  # the loop is stuck when its heartbeat is older (set by the daemon from its pace)
    alarms: object = None  # AlarmMonitor (alarm_monitor.py), set by the daemon; None: no alarm evaluation
    file_size: FileSize = dataclasses.field(default_factory=FileSize)  # /metrics: the newest file's size
    qc_tally: QcTally = dataclasses.field(default_factory=QcTally)  # /metrics, /api/status: today's QC flags
    status: object = None  # StatusCache of /api/status (status_cache.py), made by create_app


class _SecurityHeaders:
    """WSGI middleware adding the security headers to every answer, errors included."""

    def __init__(self, app):
        self.bottle = app

    def __call__(self, environ, start_response):
        def start_with_headers(status, headers, exc_info=None):
            present = {name.lower() for name, _value in headers}
            extra = [(name, value) for name, value in SECURITY_HEADERS if name.lower() not in present]
            return start_response(status, headers + extra, exc_info)

        return self.bottle(environ, start_with_headers)


def _error_handler(error):
    bottle.response.content_type = "application/json"
    status = error.status_code
    if status >= 500:
        log.error("%s %s: %s", bottle.request.method, bottle.request.path, error.body or error.exception)
        message = "internal server error"
    elif status == 404:
        message = f"not found: {bottle.request.path}"
    elif status == 405:
        message = f"method {bottle.request.method} not allowed for {bottle.request.path}"
    else:
        message = error.body if isinstance(error.body, str) and error.body else bottle.HTTP_CODES.get(status, "")
    return json.dumps({"ok": False, "error": message})


def _page(name, page):
    path = VIEWS_DIR / name
    if not path.is_file():
        bottle.response.content_type = "text/plain; charset=utf-8"
        return _PLACEHOLDER.format(page=page, path=path)
    # The pages are Bottle SimpleTemplates: both include views/head.tpl (compiled once, then cached by Bottle).
    bottle.response.content_type = "text/html; charset=utf-8"
    bottle.response.set_header("Cache-Control", "no-cache")
    return bottle.template(name, template_lookup=_VIEWS_LOOKUP)


def _add_file_routes(app, services):
    general = services.config.general

    @app.get("/")
    def control_panel():
        return _page("control.html", "control panel")

    @app.get("/view")
    @app.get("/view/")
    def dashboard():
        return _page("index.html", "dashboard")

    @app.get("/static/<path:path>")
    def static(path):
        answer = bottle.static_file(path, root=str(STATIC_DIR))
        if answer.status_code == 200:
            # uPlot is versioned by `make assets`; our own scripts change with an upgrade: revalidate them.
            cache = "public, max-age=86400" if path.startswith("vendor/") else "no-cache"
            answer.set_header("Cache-Control", cache)
        return answer

    # The browser asks for /favicon.ico whatever the page says; the manifest lets a phone add the dashboard to its
    # home screen and open it full-screen.
    @app.get("/favicon.ico")
    def favicon():
        answer = bottle.static_file("favicon.ico", root=str(STATIC_DIR), mimetype="image/x-icon")
        answer.set_header("Cache-Control", "public, max-age=86400")
        return answer

    @app.get("/manifest.webmanifest")
    def manifest():
        answer = bottle.static_file("manifest.webmanifest", root=str(STATIC_DIR), mimetype="application/manifest+json")
        answer.set_header("Cache-Control", "no-cache")
        return answer

    @app.get("/data/<name>")
    def download(name):
        match = DATA_FILE_RE.fullmatch(name)
        if match is None:
            return json_error(404, f"no such data file: {name}")
        directory = general.support_dir if match.group(2) else general.data_dir
        if not regular_file_inside(directory, name):
            return json_error(404, f"no such data file: {name}")
        answer = bottle.static_file(name, root=str(directory), mimetype="text/csv", download=name)
        if answer.status_code >= 400:
            return json_error(404, f"no such data file: {name}")
        answer.set_header("Cache-Control", "no-cache")
        return answer


def create_app(services):
    """Given the Services, return the WSGI app (the Bottle app is its .bottle attribute)."""
    app = bottle.Bottle(catchall=True, autojson=False)
    for status in (400, 401, 403, 404, 405, 413, 429, 431, 500, 503):
        app.error_handler[status] = _error_handler
    _add_file_routes(app, services)
    api.add_routes(app, services)
    control.add_routes(app, services)
    streams.add_routes(app, services)
    export_route.add_routes(app, services)
    rangehistory.add_routes(app, services)
    return _SecurityHeaders(app)
