"""The real meso360-web process over HTTP on loopback, reading real daily CSV files written by the test.

Control actions run `systemctl`; this machine's PID 1 is not systemd, so these tests put a fake
`systemctl` script first on the web process's PATH that records its argv (and answers `show`).
The real systemctl/polkit path is covered by the booted-container end-to-end test (make e2e).
"""

import datetime as dt
import gzip
import json
import os
import socket
import stat

import pytest
import requests
from ingest_helpers import wait_until
from web_helpers import read_events, start_web

from meso360.web.auth import hash_password

TEST_ROWS = [line.rstrip("\n").split(",") for line in open("test_data/test.txt").readlines()[1:]]
HEADER = open("test_data/test.txt").readline()
DAY = dt.datetime(2025, 11, 5, tzinfo=dt.UTC)
PASSWORD = "correct horse 42"


def make_rows(start, count, **overrides):
    """Return `count` data lines timed 1 s apart from `start`, with values of test_data/test.txt."""
    lines = []
    for index in range(count):
        row = list(TEST_ROWS[index % len(TEST_ROWS)])
        when = start + dt.timedelta(seconds=index)
        row[9], row[10] = when.strftime("%d%m%y"), when.strftime("%H%M%S")
        for column, value in overrides.items():
            row[int(column[1:])] = value
        lines.append(",".join(row) + "\n")
    return lines


def write_day(directory, day, lines):
    path = directory / f"{day:%Y%m%d}.txt"
    with open(path, "a", encoding="utf-8") as file:
        if path.stat().st_size == 0:
            file.write(HEADER)
        file.writelines(lines)
    return path


@pytest.fixture
def web_factory(tmp_path):
    started = []

    def start(config_text="", env=None):
        web = start_web(tmp_path, config_text, env=env)
        started.append(web)
        return web

    yield start
    for web in started:
        web.stop()


def test_history_holds_the_last_hours_of_data_time_in_columns(tmp_path, web_factory):
    (tmp_path / "data").mkdir()
    write_day(tmp_path / "data", DAY, make_rows(DAY, 3 * 3600))
    web = web_factory("[web]\nhistory_hours = 2\n")
    plain = requests.get(web.url + "/api/history", headers={"Accept-Encoding": "identity"}, timeout=10)
    zipped = requests.get(web.url + "/api/history", timeout=10)
    assert zipped.headers["Content-Encoding"] == "gzip"
    document = plain.json()
    assert document == zipped.json()
    points = document["points"]
    keys = ["id", "ts", "fix", "t", "td", "wspd", "wdir", "pressure", "compass_dir", "lat", "lon", "alt", "rh"]
    assert list(points) == keys
    assert all(len(points[key]) == len(points["id"]) for key in keys)
    assert points["ts"][-1] == int((DAY + dt.timedelta(seconds=3 * 3600 - 1)).timestamp())
    assert points["ts"][-1] - points["ts"][0] == 7200
    assert document["last_id"] == points["id"][-1]
    assert points["id"] == list(range(points["id"][0], points["id"][0] + len(points["id"])))
    assert points["t"][-1] == float(TEST_ROWS[(3 * 3600 - 1) % len(TEST_ROWS)][4])
    assert document["vehicle"] == "MM1"


def test_day_history_downsamples_a_full_day_and_keeps_minimum_and_maximum(tmp_path, web_factory):
    (tmp_path / "data").mkdir()
    lines = make_rows(DAY, 86400)
    spike, dip = lines[40000].split(","), lines[60001].split(",")
    spike[4], dip[4] = "99.5", "-40.25"
    lines[40000], lines[60001] = ",".join(spike), ",".join(dip)
    write_day(tmp_path / "data", DAY, lines)
    write_day(tmp_path / "data", DAY - dt.timedelta(days=1), make_rows(DAY - dt.timedelta(days=1), 10))
    web = web_factory()
    assert requests.get(web.url + "/api/days", timeout=10).json() == {"days": ["20251105", "20251104"]}
    document = requests.get(web.url + "/api/history/20251105?points=2000", timeout=60).json()
    points = document["points"]
    assert document["day"] == "20251105" and document["total_rows"] == 86400
    assert len(points["ts"]) <= 2000
    assert points["ts"] == sorted(points["ts"])
    assert max(value for value in points["t"] if value is not None) == 99.5
    assert min(value for value in points["t"] if value is not None) == -40.25
    assert points["ts"][0] == int(DAY.timestamp()) and points["ts"][-1] == int(DAY.timestamp()) + 86399
    answer = requests.get(web.url + "/api/history/20251104", timeout=10).json()
    assert answer["total_rows"] == 10 and len(answer["points"]["ts"]) == 10
    assert requests.get(web.url + "/api/history/20990101", timeout=10).status_code == 404
    assert requests.get(web.url + "/api/history/20251105?points=abc", timeout=10).status_code == 400


def test_stream_sends_every_appended_row_and_a_burst_of_backfilled_rows(tmp_path, web_factory):
    (tmp_path / "data").mkdir()
    write_day(tmp_path / "data", DAY, make_rows(DAY, 100))
    web = web_factory()
    with requests.get(web.url + "/api/stream", stream=True, timeout=(5, 30)) as response:
        assert response.headers["Content-Type"].startswith("text/event-stream")
        assert response.headers["Cache-Control"] == "no-cache"
        assert response.headers["X-Accel-Buffering"] == "no"
        live = make_rows(DAY + dt.timedelta(seconds=100), 5)
        for line in live:
            write_day(tmp_path / "data", DAY, [line])
        # 500 rows from an outage an hour earlier, written in one burst (backfill).
        backfill = make_rows(DAY - dt.timedelta(hours=1), 500)
        write_day(tmp_path / "data", DAY, backfill)
        events = read_events(response, 505)
    expected = [int((DAY + dt.timedelta(seconds=100 + i)).timestamp()) for i in range(5)]
    expected += [int((DAY - dt.timedelta(hours=1, seconds=-i)).timestamp()) for i in range(500)]
    assert [event["ts"] for event in events] == expected
    ids = [event["id"] for event in events]
    assert ids == list(range(ids[0], ids[0] + 505))
    assert [event["_id"] for event in events] == [str(i) for i in ids]
    metrics = requests.get(web.url + "/metrics", timeout=10).text
    assert "meso360_backfilled_rows_total 505" in metrics  # every row is older than 5 s by the host clock


def test_stream_resumes_from_last_event_id_without_a_hole(tmp_path, web_factory):
    (tmp_path / "data").mkdir()
    write_day(tmp_path / "data", DAY, make_rows(DAY, 50))
    web = web_factory()
    last_id = requests.get(web.url + "/api/history", timeout=10).json()["last_id"]
    write_day(tmp_path / "data", DAY, make_rows(DAY + dt.timedelta(seconds=50), 20))
    wait_until(lambda: requests.get(web.url + "/api/status", timeout=10).json()["live"]["last_id"] == last_id + 20)
    headers = {"Last-Event-ID": str(last_id)}
    with requests.get(web.url + "/api/stream", headers=headers, stream=True, timeout=(5, 30)) as response:
        events = read_events(response, 20)
    assert [event["id"] for event in events] == list(range(last_id + 1, last_id + 21))
    with requests.get(web.url + f"/api/stream?last_id={last_id + 15}", stream=True, timeout=(5, 30)) as response:
        events = read_events(response, 5)
    assert [event["id"] for event in events] == list(range(last_id + 16, last_id + 21))
    # An id the server never gave (a previous server's): a reset event, then the whole window.
    with requests.get(
        web.url + "/api/stream", headers={"Last-Event-ID": "5"}, stream=True, timeout=(5, 30)
    ) as response:
        read_events(response, 1, event_type="reset")
        events = read_events(response, 70)
    assert events[-1]["id"] == last_id + 20


def test_a_partly_written_last_line_is_never_parsed(tmp_path, web_factory):
    (tmp_path / "data").mkdir()
    yesterday = DAY - dt.timedelta(days=1)
    write_day(tmp_path / "data", yesterday, make_rows(yesterday, 1))
    path = write_day(tmp_path / "data", DAY, make_rows(DAY, 10))
    web = web_factory()
    line = make_rows(DAY + dt.timedelta(seconds=10), 1, c4="31.5")[0]
    late_row_time = yesterday + dt.timedelta(seconds=1)
    with requests.get(web.url + "/api/stream", stream=True, timeout=(5, 30)) as response:
        with open(path, "a") as file:
            file.write(line[:25])  # "2.548,108.8,23.1,82.2,31" would parse as t_fast = 31
        # Then a late row in yesterday's file: the reader's pass that sends it reads today's file after it
        # (the files in name order), so that pass has met the partial line; the next event is the whole line.
        write_day(tmp_path / "data", yesterday, make_rows(late_row_time, 1))
        (late,) = read_events(response, 1)
        assert late["ts"] == int(late_row_time.timestamp())
        with open(path, "a") as file:
            file.write(line[25:])
        events = read_events(response, 1)
    assert events[0]["t"] == 31.5
    assert events[0]["ts"] == int((DAY + dt.timedelta(seconds=10)).timestamp())
    status = requests.get(web.url + "/api/status", timeout=10).json()
    assert status["today"]["rows"] == 11


def test_status_reports_units_newest_row_today_resources_tunnel_and_control(tmp_path, web_factory):
    (tmp_path / "data").mkdir()
    (tmp_path / "state" / "tunnel").mkdir(parents=True)
    gap_rows = make_rows(DAY, 100) + make_rows(DAY + dt.timedelta(seconds=110), 50)
    write_day(tmp_path / "data", DAY, gap_rows)
    tunnel_state = {"state": "up", "since": "x", "reconnects": 2}
    (tmp_path / "state" / "tunnel" / "tunnel.json").write_text(json.dumps(tunnel_state))
    web = web_factory()
    status = requests.get(web.url + "/api/status", timeout=10).json()
    assert [unit["component"] for unit in status["units"]] == ["ingest", "web", "tunnel", "sim"]
    assert status["units"][0]["name"] == "meso360-ingest.service"
    assert {"active", "sub", "since", "restarts", "status_text", "enabled", "configured"} <= set(status["units"][0])
    assert status["units"][2]["configured"] is False  # no [tunnel] host
    assert status["newest"]["ts"] == int((DAY + dt.timedelta(seconds=159)).timestamp())
    assert status["newest"]["age_s"] > 0
    assert status["today"]["rows"] == 150
    assert status["today"]["gaps"] == 1 and status["today"]["missing_s"] == 10
    assert {"cpu_pct", "mem_pct", "rss_mb", "disk_pct", "disk_free_gb"} <= set(status["resources"])
    assert status["tunnel"] == {"configured": False, "state": "up", "since": "x", "reconnects": 2}
    assert status["control"] == {"enabled": False, "logged_in": False}
    assert status["vehicle"] == "MM1" and status["version"]
    assert status["data_dir"] == str(tmp_path / "data")


FAKE_SYSTEMCTL = """#!/bin/sh
echo "$@" >> "{log}"
if [ "$1" = show ]; then
    for unit in meso360-ingest.service meso360-web.service meso360-tunnel.service meso360-sim.service; do
        printf 'Id=%s\\nLoadState=loaded\\nActiveState=active\\nSubState=running\\n' "$unit"
        printf 'ActiveEnterTimestamp=@1762300800\\nNRestarts=3\\nStatusText=fine\\nUnitFileState=enabled\\n\\n'
    done
    exit 0
fi
if [ -e "{fail}" ]; then echo "Failed to restart unit: Access denied" >&2; exit 4; fi
exit 0
"""


@pytest.fixture
def fake_systemctl(tmp_path):
    """A recording `systemctl` on PATH (this machine is not booted with systemd); returns (env, argv log)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "systemctl.argv"
    script = bin_dir / "systemctl"
    script.write_text(FAKE_SYSTEMCTL.format(log=log, fail=tmp_path / "fail"))
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return {"PATH": f"{bin_dir}:{os.environ['PATH']}"}, log


def test_login_csrf_and_control_run_systemctl(tmp_path, web_factory, fake_systemctl):
    env, argv_log = fake_systemctl
    web = web_factory(f"[web]\npassword_hash = {hash_password(PASSWORD)}\n", env=env)
    status = requests.get(web.url + "/api/status", timeout=10).json()
    assert status["units"][0]["active"] == "active" and status["units"][0]["restarts"] == 3
    assert status["units"][0]["since"] == "2025-11-05T00:00:00Z" and status["units"][0]["enabled"] is True
    session = requests.Session()
    assert session.post(web.url + "/api/login", json={"password": "wrong password"}, timeout=10).status_code == 401
    assert session.post(web.url + "/api/control", json={"action": "restart-all"}, timeout=10).status_code == 401
    answer = session.post(web.url + "/api/login", json={"password": PASSWORD}, timeout=10)
    assert answer.status_code == 200 and answer.json()["ok"] is True
    cookie = answer.headers["Set-Cookie"]
    assert "meso360_session=" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    token = answer.json()["csrf_token"]
    assert session.get(web.url + "/api/session", timeout=10).json() == {
        "logged_in": True,
        "control_enabled": True,
        "csrf_token": token,
    }
    control = web.url + "/api/control"
    body = {"action": "restart", "component": "ingest"}
    assert session.post(control, json=body, timeout=10).status_code == 403  # no CSRF token
    assert session.post(control, json=body, headers={"X-CSRF-Token": "nope"}, timeout=10).status_code == 403
    headers = {"X-CSRF-Token": token}
    foreign = {**headers, "Origin": "http://evil.example"}
    assert session.post(control, json=body, headers=foreign, timeout=10).status_code == 403
    not_json = session.post(control, data="action=restart", headers=headers, timeout=10)
    assert not_json.status_code == 400 and "application/json" in not_json.json()["error"]
    bad = session.post(control, data="{", headers={**headers, "Content-Type": "application/json"}, timeout=10)
    assert bad.status_code == 400 and "not valid JSON" in bad.json()["error"]
    unknown = session.post(control, json={"action": "explode", "component": "ingest"}, headers=headers, timeout=10)
    assert unknown.status_code == 400 and "unknown action" in unknown.json()["error"]
    wrong = session.post(control, json={"action": "stop", "component": "sshd"}, headers=headers, timeout=10)
    assert wrong.status_code == 400 and "unknown component" in wrong.json()["error"]
    same_origin = {**headers, "Origin": web.url}
    done = session.post(control, json=body, headers=same_origin, timeout=10)
    assert done.status_code == 200, done.text
    assert done.json()["unit"] == "meso360-ingest.service" and done.json()["action"] == "restart"
    assert session.post(control, json={"action": "restart-all"}, headers=headers, timeout=10).status_code == 200
    # enable/disable start the root oneshot meso360-unitfile@VERB-COMPONENT (allowed by the polkit rule).
    enable = session.post(control, json={"action": "enable", "component": "ingest"}, headers=headers, timeout=10)
    assert enable.status_code == 200, enable.text
    assert enable.json()["unit"] == "meso360-ingest.service" and "enabled" in enable.json()["result"]
    disable = session.post(control, json={"action": "disable", "component": "web"}, headers=headers, timeout=10)
    assert disable.status_code == 200, disable.text
    # A tunnel (re)start is queued, not awaited: READY comes only once the forward is verified (never offline).
    tunnel = session.post(control, json={"action": "restart", "component": "tunnel"}, headers=headers, timeout=10)
    assert tunnel.status_code == 200, tunnel.text
    assert tunnel.json()["result"].startswith("restart requested; the tunnel reports ready once its forward")
    calls = [line for line in argv_log.read_text().splitlines() if not line.startswith("show")]
    assert calls == [
        "--no-ask-password restart meso360-ingest.service",
        "--no-ask-password restart --no-block meso360.target",
        "--no-ask-password start meso360-unitfile@enable-ingest.service",
        "--no-ask-password start meso360-unitfile@disable-web.service",
        "--no-ask-password restart --no-block meso360-tunnel.service",
    ]
    (tmp_path / "fail").touch()
    failed = session.post(control, json={"action": "stop", "component": "sim"}, headers=headers, timeout=10)
    assert failed.status_code == 502 and "Access denied" in failed.json()["error"]
    refused = session.post(control, json={"action": "disable", "component": "sim"}, headers=headers, timeout=10)
    error = refused.json()["error"]
    assert refused.status_code == 502 and "start meso360-unitfile@disable-sim.service" in error
    assert "Access denied" in error and "polkitd" in error
    assert session.post(web.url + "/api/logout", timeout=10).status_code == 200
    assert session.get(web.url + "/api/session", timeout=10).json()["logged_in"] is False


def test_without_a_password_control_is_read_only(web_factory):
    web = web_factory()
    login = requests.post(web.url + "/api/login", json={"password": "anything"}, timeout=10)
    assert login.status_code == 403 and "meso360ctl passwd" in login.json()["error"]
    control = requests.post(web.url + "/api/control", json={"action": "restart-all"}, timeout=10)
    assert control.status_code == 403
    assert requests.get(web.url + "/api/session", timeout=10).json() == {"logged_in": False, "control_enabled": False}


def test_errors_are_json_downloads_are_confined_and_headers_are_set(tmp_path, web_factory):
    (tmp_path / "data").mkdir()
    (tmp_path / "support").mkdir()
    write_day(tmp_path / "data", DAY, make_rows(DAY, 3))
    (tmp_path / "support" / "20251105_support.txt").write_text("a,b\n1,2\n")
    (tmp_path / "secret.txt").write_text("secret")
    web = web_factory()
    missing = requests.get(web.url + "/api/nothing", timeout=10)
    assert missing.status_code == 404 and missing.json()["ok"] is False
    assert requests.post(web.url + "/api/history", timeout=10).status_code == 405
    download = requests.get(web.url + "/data/20251105.txt", timeout=10)
    assert download.status_code == 200 and download.text.startswith(HEADER)
    assert download.headers["Content-Disposition"] == 'attachment; filename="20251105.txt"'
    assert requests.get(web.url + "/data/20251105_support.txt", timeout=10).text == "a,b\n1,2\n"
    for attempt in ("/data/../secret.txt", "/data/..%2Fsecret.txt", "/data/%2e%2e%2fsecret.txt", "/data/secret.txt"):
        answer = requests.get(web.url + attempt, timeout=10)
        assert answer.status_code == 404 and "secret" != answer.text, attempt
    assert requests.get(web.url + "/data/20991231.txt", timeout=10).json()["ok"] is False
    page = requests.get(web.url + "/view", timeout=10)
    assert page.status_code == 200
    for name, value in [
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "same-origin"),
        ("X-Frame-Options", "DENY"),
    ]:
        assert page.headers[name] == value and missing.headers[name] == value
    assert page.headers["Content-Security-Policy"].startswith("default-src 'self'")
    bad_tail = requests.get(web.url + "/api/tail/stream?source=../../etc", timeout=10)
    assert bad_tail.status_code == 400 and "unknown tail source" in bad_tail.json()["error"]


def test_metrics_and_healthz(tmp_path, web_factory):
    (tmp_path / "data").mkdir()
    write_day(tmp_path / "data", DAY, make_rows(DAY, 30) + make_rows(DAY + dt.timedelta(seconds=40), 5))
    web = web_factory()
    assert requests.get(web.url + "/healthz", timeout=10).text == "ok\n"
    text = requests.get(web.url + "/metrics", timeout=10).text
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            values[name] = float(value)
    assert values["meso360_records_written_total"] == 35
    assert values["meso360_gaps_today"] == 1 and values["meso360_missing_seconds_today"] == 10
    assert values["meso360_sse_clients"] == 0
    assert values['meso360_unit_active{unit="meso360-ingest.service"}'] == 0
    assert values["meso360_newest_observation_age_seconds"] > 0


def test_tail_stream_sends_the_last_lines_then_new_ones(tmp_path, web_factory):
    (tmp_path / "data").mkdir()
    path = write_day(tmp_path / "data", DAY, make_rows(DAY, 300))
    web = web_factory()
    url = web.url + "/api/tail/stream?source=obs&lines=5"
    with requests.get(url, stream=True, timeout=(5, 30)) as response:
        first = read_events(response, 5, event_type="line")
        new = make_rows(DAY + dt.timedelta(seconds=300), 2)
        with open(path, "a") as file:
            file.writelines(new)
        following = read_events(response, 2, event_type="line")
    assert [event["line"] for event in first] == [line.rstrip("\n") for line in make_rows(DAY, 300)[-5:]]
    assert [event["line"] for event in following] == [line.rstrip("\n") for line in new]
    with requests.get(web.url + "/api/log/stream?lines=5", stream=True, timeout=(5, 30)) as response:
        assert read_events(response, 1, event_type="log")[0]["message"]


def test_ready_is_sent_to_the_notify_socket_once_listening(tmp_path, web_factory):
    path = str(tmp_path / "notify.sock")
    receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    receiver.bind(path)
    receiver.settimeout(30)
    try:
        web = web_factory(env={"NOTIFY_SOCKET": path})
        messages = []
        while not any("READY=1" in message for message in messages):
            messages.append(receiver.recv(4096).decode())
        ready = next(message for message in messages if "READY=1" in message)
        assert "STATUS=serving on 127.0.0.1:" in ready
        assert requests.get(web.url + "/healthz", timeout=10).status_code == 200
    finally:
        receiver.close()


def test_gzip_history_is_smaller_than_the_plain_body(tmp_path, web_factory):
    (tmp_path / "data").mkdir()
    write_day(tmp_path / "data", DAY, make_rows(DAY, 600))
    web = web_factory()
    raw = requests.get(web.url + "/api/history", headers={"Accept-Encoding": "gzip"}, stream=True, timeout=10)
    body = raw.raw.read()
    assert len(body) < len(gzip.decompress(body)) / 3
