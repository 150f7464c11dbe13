"""Inside the e2e container: talk to the installed meso360-web on http://127.0.0.1:8080 (no curl there).

One subcommand per check of scripts/e2e.sh; each prints what it saw (one JSON line, or the log
events) and exits 0 when the answer is the expected one, 1 otherwise. Passwords come on standard
input (one line), never on the command line. Standard library only, run with the container's python3.
"""

import argparse
import http.cookiejar
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request

BASE = "http://127.0.0.1:8080"
SIM_CONTROL = "http://127.0.0.1:8082"  # meso360-sim.service --control-port
TIMEOUT_S = 10
CONTROL_TIMEOUT_S = 45  # the daemon waits up to 30 s for systemctl
UNITS = {"meso360-ingest.service", "meso360-web.service", "meso360-tunnel.service", "meso360-sim.service"}
READ_ONLY_NOTE = b"Control is read-only. To enable it, run"


class Client:
    """HTTP with a cookie jar (the session cookie) that returns error answers instead of raising."""

    def __init__(self):
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def request(self, path, document=None, headers=None, timeout=TIMEOUT_S):
        """Return (status, headers, body bytes); a JSON `document` is POSTed as application/json."""
        data = None if document is None else json.dumps(document).encode()
        request = urllib.request.Request(BASE + path, data=data, headers=dict(headers or {}))  # noqa: S310  BASE: http
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with self.opener.open(request, timeout=timeout) as answer:
                return answer.status, answer.headers, answer.read()
        except urllib.error.HTTPError as error:
            with error:
                return error.code, error.headers, error.read()

    def json(self, path, document=None, headers=None, timeout=TIMEOUT_S):
        status, _headers, body = self.request(path, document, headers, timeout)
        try:
            return status, json.loads(body)
        except ValueError:
            return status, {"not_json": body[:200].decode(errors="replace")}

    def login(self, password):
        status, answer = self.json("/api/login", {"password": password})
        return status, answer.get("csrf_token"), answer


def read_password():
    return sys.stdin.readline().rstrip("\r\n")


def page(args):
    """GET a page or file: 200 and every given text in the body."""
    status, headers, body = Client().request(args.path)
    missing = [text for text in args.texts if text.encode() not in body]
    result = {"path": args.path, "status": status, "bytes": len(body), "type": headers.get("Content-Type")}
    return status == 200 and not missing, result | ({"missing": missing} if missing else {})


def status(args):
    """/api/status: the four units with ingest and web active, a fresh newest observation, no login."""
    code, answer = Client().json("/api/status")
    units = {unit.get("name"): unit.get("active") for unit in answer.get("units", [])}
    newest = answer.get("newest") or {}
    result = {"status": code, "units": units, "newest": {key: newest.get(key) for key in ("id", "ts", "t", "age_s")}}
    ok = (
        code == 200
        and set(units) == UNITS
        and units["meso360-ingest.service"] == units["meso360-web.service"] == "active"
        and isinstance(newest.get("ts"), int | float)
        and newest.get("age_s") is not None
        and newest["age_s"] < args.max_age
        and answer.get("control", {}).get("logged_in") is False
    )
    return ok, result


def unit_state(args):
    """/api/status: UNIT's `active` (and `enabled` with --enabled) as given, the states followed over D-Bus."""
    code, answer = Client().json("/api/status")
    unit = next((unit for unit in answer.get("units", []) if unit.get("name") == args.unit), {})
    source = (answer.get("systemd") or {}).get("source")
    result = {"status": code, "source": source, "active": unit.get("active"), "enabled": unit.get("enabled")}
    ok = code == 200 and source == "dbus" and unit.get("active") == args.active
    if args.enabled is not None:
        ok = ok and unit.get("enabled") is (args.enabled == "yes")
    return ok, result


def many_status(args):
    """GET /api/status COUNT times; ok when every answer is 200."""
    client = Client()
    codes = [client.request("/api/status")[0] for _ in range(args.count)]
    return all(code == 200 for code in codes), {"requests": len(codes), "not_200": sum(c != 200 for c in codes)}


def history(args):
    """/api/history: at least MIN rows of the live window, with ids and GPS times."""
    code, answer = Client().json("/api/history")
    points = answer.get("points") or {}
    ids, stamps = points.get("id") or [], points.get("ts") or []
    result = {"status": code, "rows": len(ids), "last_id": answer.get("last_id"), "vehicle": answer.get("vehicle")}
    ok = code == 200 and len(ids) >= args.min_rows and len(stamps) == len(ids) and answer.get("last_id") == ids[-1]
    return ok, result


PAST_DAY = "20200101"  # long before anything the simulator replays
PAST_DAY_ROW = "2.548,108.8,23.1,82.2,{t:.2f},19.92,81.8,900.85,93.1,010120,{hhmmss},33.19,-102.27,1021,0,85.5,28.16\n"


def past_day(args):
    """/api/history/<day> of a full past day (86 400 rows, written for this check and removed after): every row
    counted, at most 2000 points, and the journal says the daemon read it in two processes (its helper process
    runs in the unit's sandbox)."""
    path = f"{args.data_dir}/{PAST_DAY}.txt"
    clock = (f"{second // 3600:02}{second // 60 % 60:02}{second % 60:02}" for second in range(86400))
    rows = (PAST_DAY_ROW.format(t=20 + second % 600 / 100, hhmmss=hhmmss) for second, hhmmss in enumerate(clock))
    with open(path, "w", encoding="utf-8") as file:
        file.writelines(rows)
    try:
        began = time.time()
        code, answer = Client().json(f"/api/history/{PAST_DAY}?points=2000", timeout=60)
        took_ms = 1000 * (time.time() - began)
    finally:
        os.remove(path)
    points = answer.get("points") or {}
    journal = subprocess.run(
        ["journalctl", "-u", "meso360-web.service", "-o", "cat", "--since", f"@{int(began) - 1}", "--no-pager"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    read = [line for line in journal.splitlines() if f"day history: {PAST_DAY}.txt" in line]
    warnings = [line for line in journal.splitlines() if "day history: helper process" in line]
    result = {"status": code, "total_rows": answer.get("total_rows"), "points": len(points.get("ts") or [])}
    result |= {"ms": round(took_ms), "journal": read, "helper_warnings": warnings}
    ok = (
        code == 200
        and answer.get("total_rows") == 86400
        and 0 < len(points.get("ts") or []) <= 2000
        and min(points.get("t") or [0]) == 20.0
        and max(points.get("t") or [0]) == 25.99
        and any("in two processes" in line for line in read)
        and not warnings
    )
    return ok, result


def read_only(_args):
    """No password set: login and control refused with 403, session and status say so, the panel has the note."""
    client = Client()
    control_status, control = client.json("/api/control", {"action": "restart", "component": "ingest"})
    login_status, login = client.json("/api/login", {"password": "anything at all"})
    _code, session = client.json("/api/session")
    _code, state = client.json("/api/status")
    _code, _headers, panel = client.request("/")
    result = {
        "control": [control_status, control.get("error")],
        "login": [login_status, login.get("error")],
        "session": session,
        "status_control": state.get("control"),
        "panel_note": READ_ONLY_NOTE in panel,
    }
    ok = (
        control_status == 403
        and "read-only" in control.get("error", "")
        and login_status == 403
        and "meso360ctl passwd" in login.get("error", "")
        and session.get("control_enabled") is False
        and state.get("control", {}).get("enabled") is False
        and READ_ONLY_NOTE in panel
    )
    return ok, result


def wrong_password(_args):
    """A wrong password: 401, no session."""
    client = Client()
    code, csrf, answer = client.login(read_password() + "-wrong")
    _code, session = client.json("/api/session")
    result = {"login": [code, answer.get("error")], "session": session}
    return code == 401 and csrf is None and session.get("logged_in") is False, result


def control(args):
    """Log in with the password from stdin, then POST /api/control ACTION COMPONENT: 200 expected."""
    client = Client()
    code, csrf, answer = client.login(read_password())
    if code != 200 or not csrf:
        return False, {"login": [code, answer]}
    _code, session = client.json("/api/session")
    # Without the CSRF header the action is refused (403) even with the session cookie.
    no_csrf, _answer = client.json("/api/control", {"action": args.action, "component": args.component})
    started = time.monotonic()
    code, answer = client.json(
        "/api/control",
        {"action": args.action, "component": args.component},
        headers={"X-CSRF-Token": csrf},
        timeout=CONTROL_TIMEOUT_S,
    )
    result = {
        "login": 200,
        "session": {key: session.get(key) for key in ("logged_in", "control_enabled")},
        "without_csrf": no_csrf,
        "control": [code, answer],
        "seconds": round(time.monotonic() - started, 1),
    }
    ok = session.get("logged_in") is True and no_csrf == 403 and code == 200 and answer.get("ok") is True
    return ok, result


def log_stream(args):
    """GET /api/log/stream?lines=N: N `event: log` frames with a syslog priority, within the timeout.

    With --want TEXT --priority P: also one event whose message has TEXT, at priority P.
    """
    deadline = time.monotonic() + args.timeout
    events, wanted, event = [], None, None
    request = urllib.request.Request(f"{BASE}/api/log/stream?lines={args.lines}")  # noqa: S310  BASE: http
    with urllib.request.urlopen(request, timeout=args.timeout) as answer:  # noqa: S310  BASE: http
        content_type = answer.headers.get("Content-Type", "")
        while time.monotonic() < deadline and (len(events) < args.lines or (args.want and wanted is None)):
            raw = answer.readline()
            if not raw:  # the server ended the stream
                break
            line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            if line.startswith("event: "):
                event = line[len("event: ") :]
            elif line.startswith("data: ") and event == "log":
                data = json.loads(line[len("data: ") :])
                events.append(data)
                if args.want and args.want in data.get("message", "") and data.get("priority") == args.priority:
                    wanted = data
    for data in events:
        print(f"  <{data.get('priority')}> {data.get('unit')}: {data.get('message')}")
    ok = (
        content_type.startswith("text/event-stream")
        and len(events) >= args.lines
        and all(isinstance(data.get("priority"), int) and 0 <= data["priority"] <= 7 for data in events)
        and all(data.get("unit", "").startswith("meso360") for data in events)
        and (not args.want or wanted is not None)
    )
    return ok, {"type": content_type, "events": len(events), "wanted": wanted}


def alarms(args):
    """GET /api/alarms; ok when every --want alarm is active and no --absent one is."""
    status, document = Client().json("/api/alarms")
    names = sorted(alarm.get("name") for alarm in document.get("active", []))
    ok = status == 200 and set(args.want) <= set(names) and not set(args.absent) & set(names)
    return ok, {"status": status, "active": names}


def battery(_args):
    """GET /api/status; ok when its logger block has a plausible battery voltage (ingest's logger.json)."""
    status, document = Client().json("/api/status")
    logger = document.get("logger") or {}
    volts = logger.get("battery_v")
    return status == 200 and isinstance(volts, int | float) and 10 < volts < 16, {"status": status, "logger": logger}


def sim_fault(args):
    """POST a fault to the simulator's control API (127.0.0.1:8082), e.g. an outage of N seconds."""
    fault = json.dumps({"kind": args.kind, "seconds": args.seconds}).encode()
    request = urllib.request.Request(  # noqa: S310  a fixed http URL on loopback
        f"{SIM_CONTROL}/fault", data=fault, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=TIMEOUT_S) as answer:  # noqa: S310  a fixed http URL on loopback
        return answer.status == 200, json.loads(answer.read() or b"{}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    command = commands.add_parser("page")
    command.add_argument("path")
    command.add_argument("texts", nargs="*")
    command.set_defaults(run=page)
    command = commands.add_parser("status")
    command.add_argument("--max-age", type=float, default=30.0)
    command.set_defaults(run=status)
    command = commands.add_parser("history")
    command.add_argument("min_rows", type=int)
    command.set_defaults(run=history)
    command = commands.add_parser("past-day")
    command.add_argument("--data-dir", default="/var/lib/meso360/data")
    command.set_defaults(run=past_day)
    commands.add_parser("read-only").set_defaults(run=read_only)
    commands.add_parser("wrong-password").set_defaults(run=wrong_password)
    command = commands.add_parser("control")
    command.add_argument("action")
    command.add_argument("component")
    command.set_defaults(run=control)
    command = commands.add_parser("log-stream")
    command.add_argument("--lines", type=int, default=5)
    command.add_argument("--timeout", type=float, default=10.0)
    command.add_argument("--want")
    command.add_argument("--priority", type=int)
    command.set_defaults(run=log_stream)
    command = commands.add_parser("unit-state")
    command.add_argument("unit")
    command.add_argument("active")
    command.add_argument("--enabled", choices=("yes", "no"))
    command.set_defaults(run=unit_state)
    command = commands.add_parser("many-status")
    command.add_argument("count", type=int)
    command.set_defaults(run=many_status)
    command = commands.add_parser("alarms")
    command.add_argument("--want", action="append", default=[])
    command.add_argument("--absent", action="append", default=[])
    command.set_defaults(run=alarms)
    commands.add_parser("battery").set_defaults(run=battery)
    command = commands.add_parser("sim-fault")
    command.add_argument("kind")
    command.add_argument("seconds", type=float)
    command.set_defaults(run=sim_fault)
    args = parser.parse_args()
    try:
        ok, result = args.run(args)
    except (OSError, ValueError) as error:
        ok, result = False, {"error": f"{type(error).__name__}: {error}"}
    print(json.dumps(result))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
