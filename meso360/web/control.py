"""Operator routes: login, logout, session, and control actions executed through systemd."""

import functools
import json
import logging
import urllib.parse

import bottle

from meso360.systemd_units import COMPONENTS
from meso360.web import auth
from meso360.web.login_guard import LoginRefused
from meso360.web.responses import json_body, json_error
from meso360.web.sessions import SESSION_COOKIE, SESSION_SECONDS
from meso360.web.systemd import ACTIONS, ControlFailed

log = logging.getLogger(__name__)

READ_ONLY_MESSAGE = "control is read-only: set a password with `sudo meso360ctl passwd`"
MAX_BODY_BYTES = 4096


def _origin_matches_host():
    """Return True unless an Origin header names another host than the one the request was sent to.

    Against cross-site requests and DNS rebinding (a foreign page whose name resolves to the vehicle).
    """
    origin = bottle.request.get_header("Origin")
    if not origin:
        return True
    host = bottle.request.get_header("Host", "")
    try:
        parsed = urllib.parse.urlsplit(origin)
    except ValueError:  # "http://[": not a URL, so not this host
        return False
    return parsed.scheme in ("http", "https") and parsed.netloc.lower() == host.lower()


def client_address():
    """Return the address the request came from (never X-Forwarded-For, which any client can write)."""
    return bottle.request.environ.get("REMOTE_ADDR") or "unknown"


class BadRequest(ValueError):
    """A request body the routes cannot use; .status is 400 or 413, str() the message for the client."""

    def __init__(self, message, status=400):
        super().__init__(message)
        self.status = status


def _json_request():
    """Return the JSON object of the request body; raise BadRequest with a message for the client."""
    content_type = bottle.request.get_header("Content-Type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise BadRequest("the request body must be JSON with Content-Type: application/json")
    if bottle.request.content_length > MAX_BODY_BYTES:
        raise BadRequest(f"the request body is larger than {MAX_BODY_BYTES} bytes", status=413)
    body = bottle.request.body.read(MAX_BODY_BYTES + 1)
    if len(body) > MAX_BODY_BYTES:  # chunked, without a Content-Length
        raise BadRequest(f"the request body is larger than {MAX_BODY_BYTES} bytes", status=413)
    try:
        document = json.loads(body or b"null")
    except (ValueError, UnicodeDecodeError) as error:
        raise BadRequest(f"the request body is not valid JSON: {error}") from None
    except RecursionError:
        raise BadRequest("the request body is not valid JSON: nested too deeply") from None
    if not isinstance(document, dict):
        raise BadRequest("the request body must be a JSON object")
    return document


def _is_utf8(text):
    """Return False for a string JSON may hold but UTF-8 cannot (a lone surrogate such as "\\ud800")."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _current_session(services):
    return services.sessions.get(bottle.request.get_cookie(SESSION_COOKIE))


def _login(services):
    password_hash = services.config.web.password_hash
    if not password_hash:
        return json_error(403, READ_ONLY_MESSAGE)
    if not _origin_matches_host():
        return json_error(403, "cross-origin request refused")
    try:
        document = _json_request()
    except BadRequest as error:
        return json_error(error.status, str(error))
    password = document.get("password")
    if not isinstance(password, str) or not password or not _is_utf8(password):
        return json_error(400, 'the body must be {"password": "..."} (text)')
    address = client_address()
    try:
        right = services.login_guard.check(address, lambda: auth.verify_password(password, password_hash))
    except LoginRefused as refused:
        return json_error(refused.status, str(refused))
    if not right:
        log.warning("failed control-panel login from %s", address)
        return json_error(401, "wrong password")
    session = services.sessions.create()
    log.info("control-panel login from %s", address)
    answer = json_body({"ok": True, "csrf_token": session.csrf_token})
    answer.set_cookie(
        SESSION_COOKIE, session.token, httponly=True, samesite="Strict", path="/", max_age=SESSION_SECONDS
    )
    return answer


def _logout(services):
    if not _origin_matches_host():
        return json_error(403, "cross-origin request refused")
    services.sessions.drop(bottle.request.get_cookie(SESSION_COOKIE))
    answer = json_body({"ok": True})
    answer.set_cookie(SESSION_COOKIE, "", httponly=True, samesite="Strict", path="/", max_age=0)
    return answer


def _session_state(services):
    session = _current_session(services)
    document = {"logged_in": session is not None, "control_enabled": bool(services.config.web.password_hash)}
    if session is not None:
        document["csrf_token"] = session.csrf_token
    return json_body(document)


def _control_request_problem(action, component):
    """Return the message for the client when the action or its component is not one we run, else None."""
    if action not in ACTIONS:
        return f"unknown action {action!r}: one of {', '.join(ACTIONS)}"
    if action == "restart-all":
        if component is not None:
            return "restart-all takes no component"
    elif component not in COMPONENTS:
        return f"unknown component {component!r}: one of {', '.join(COMPONENTS)}"
    return None


def _control(services):
    if not services.config.web.password_hash:
        return json_error(403, READ_ONLY_MESSAGE)
    session = _current_session(services)
    if session is None:
        return json_error(401, "not logged in")
    if not _origin_matches_host():
        return json_error(403, "cross-origin request refused")
    if not services.sessions.csrf_ok(session, bottle.request.get_header("X-CSRF-Token", "")):
        return json_error(403, "missing or wrong X-CSRF-Token header (reload the page)")
    try:
        document = _json_request()
    except BadRequest as error:
        return json_error(error.status, str(error))
    action, component = document.get("action"), document.get("component")
    problem = _control_request_problem(action, component)
    if problem is not None:
        return json_error(400, problem)
    try:
        unit, result = services.systemd.control(action, component)
    except ControlFailed as error:
        message = str(error)
        if action in ("enable", "disable") and ("denied" in message or "authentication" in message.lower()):
            # The package's polkit rule allows it; without polkitd nothing is authorised.
            message += f" (is polkitd installed? Or on the vehicle computer: sudo meso360ctl {action} {component})"
        log.warning("control %s %s from %s failed: %s", action, component or "", client_address(), error)
        return json_error(502, message)
    finally:
        services.status.invalidate()  # the panel's next /api/status shows the units as the action left them
    log.info("control: %s %s by operator at %s", action, unit, client_address())
    return json_body({"ok": True, "action": action, "unit": unit, "result": result})


def add_routes(app, services):
    """Given the Bottle app and the Services, add the login, logout, session and control routes."""
    app.post("/api/login", callback=functools.partial(_login, services))
    app.post("/api/logout", callback=functools.partial(_logout, services))
    app.get("/api/session", callback=functools.partial(_session_state, services))
    app.post("/api/control", callback=functools.partial(_control, services))
