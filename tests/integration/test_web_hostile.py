"""The real meso360-web process under hostile clients on loopback: slow senders, login floods, huge requests.

"Another address" is 127.0.0.2: the whole of 127.0.0.0/8 is loopback, a client socket bound to it
reaches the daemon on 127.0.0.1 from a second address. Nothing here leaves the machine.
"""

import datetime as dt
import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from ingest_helpers import wait_until
from test_web_api import DAY, PASSWORD, make_rows, write_day
from test_web_inputs import start_web_with_password
from web_attackers import login_from
from web_helpers import read_events, start_web

from meso360.web.server import SEND_STALL_S

SLOW_CLIENTS = 150
FLOOD_CLIENTS = 60
ATTACK_SECONDS = 20.0
HEALTH_ANSWER_LIMIT_S = 2.0
RSS_LIMIT_MB = 100.0
ATTACKERS = Path(__file__).with_name("web_attackers.py")


@pytest.fixture
def web(tmp_path):
    process = start_web_with_password(tmp_path, 600)
    yield process
    process.stop()


def rss_mb(pid):
    with open(f"/proc/{pid}/status", encoding="ascii") as file:
        for line in file:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def test_slow_clients_and_a_login_flood_leave_health_memory_and_the_operators_login_intact(web):
    """150 slowloris connections and 60 parallel wrong logins from 127.0.0.1 for 20 s: /healthz and the panel
    answer within 2 s throughout, the daemon stays under 100 MB, the right password from 127.0.0.2 logs in
    and a live stream gets the row appended meanwhile."""
    command = [sys.executable, str(ATTACKERS), "--port", str(web.port), "--slow", str(SLOW_CLIENTS)]
    command += ["--flood", str(FLOOD_CLIENTS), "--seconds", str(ATTACK_SECONDS)]
    attackers = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    slowest_health_s, peak_rss_mb, probes, failures = 0.0, 0.0, 0, []
    operator = live_row = None
    live = requests.get(web.url + "/api/stream", stream=True, timeout=(5, 30))
    try:
        assert attackers.stdout.readline().strip() == "attacking"
        started = time.monotonic()
        while time.monotonic() - started < ATTACK_SECONDS:
            for path in ("/healthz", "/"):  # the watchdog's check and the control panel
                probe_start = time.monotonic()
                try:
                    answer = requests.get(web.url + path, timeout=HEALTH_ANSWER_LIMIT_S + 3)
                    if answer.status_code != 200:
                        failures.append(f"{path}: {answer.status_code} {answer.text[:100]}")
                except requests.RequestException as error:
                    failures.append(f"{path}: {error}")
                slowest_health_s = max(slowest_health_s, time.monotonic() - probe_start)
            peak_rss_mb = max(peak_rss_mb, rss_mb(web.process.pid))
            probes += 1
            if operator is None and time.monotonic() - started > ATTACK_SECONDS / 2:
                operator = login_from("127.0.0.2", web.port, PASSWORD)
                row = make_rows(DAY + dt.timedelta(seconds=600), 1)
                write_day(web.data_dir, DAY, row)
                live_row = read_events(live, 1, timeout=10)[0]
            time.sleep(0.2)  # the probe's pace, not a synchronisation
        report = json.loads(attackers.communicate(timeout=60)[0].splitlines()[-1])
        statuses = report["statuses"]
    finally:
        live.close()
        if attackers.poll() is None:
            attackers.kill()
            attackers.wait(timeout=10)
    print(f"slowest /healthz or / {slowest_health_s:.3f} s, {probes} probes, peak RSS {peak_rss_mb:.0f} MB, {report}")
    assert not failures, failures[:5]
    assert probes > 10
    assert slowest_health_s < HEALTH_ANSWER_LIMIT_S, f"slowest /healthz or / {slowest_health_s:.2f} s"
    assert peak_rss_mb < RSS_LIMIT_MB, f"peak RSS {peak_rss_mb:.0f} MB"
    assert operator is not None and operator[0] == 200 and operator[1]["ok"] is True, operator
    assert live_row is not None and live_row["ts"] == int((DAY + dt.timedelta(seconds=600)).timestamp())
    # The flooding address is refused without a password check once it failed too often.
    assert statuses.get("429", 0) > 0 and statuses.get("401", 0) <= 12, statuses
    assert "200" not in statuses
    assert web.process.poll() is None


def test_an_x_forwarded_for_header_neither_hides_a_guesser_nor_locks_out_the_address_it_names(web):
    """The limits count the connection's address: a made-up X-Forwarded-For changes nothing."""
    for index in range(10):
        answer = requests.post(
            web.url + "/api/login",
            json={"password": "wrong password"},
            headers={"X-Forwarded-For": f"10.9.9.{index}"},
            timeout=30,
        )
        assert answer.status_code == 401
    blocked = requests.post(
        web.url + "/api/login", json={"password": PASSWORD}, headers={"X-Forwarded-For": "10.9.9.99"}, timeout=30
    )
    assert blocked.status_code == 429 and "127.0.0.1" in blocked.json()["error"]
    assert login_from("127.0.0.2", web.port, PASSWORD)[0] == 200


def metric(web, name):
    for line in requests.get(web.url + "/metrics", timeout=10).text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"no {name} in /metrics")


def test_a_live_stream_client_that_stops_reading_is_dropped_and_counted_out(web):
    """A client that takes nothing for SEND_STALL_S (a laptop gone to sleep) must not hold one of the live stream's
    slots and a growing pile of frames for ever."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # small, so the server's buffers fill soon
    try:
        sock.connect(("127.0.0.1", web.port))
        sock.sendall(b"GET /api/stream HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        wait_until(lambda: metric(web, "meso360_sse_clients") == 1, timeout=30, message="the stream to start")
        start = DAY + dt.timedelta(seconds=600)
        for burst in range(1, 31):  # rows the client never reads: 6.5 MB of frames, more than the socket buffers take
            write_day(web.data_dir, DAY, make_rows(start + dt.timedelta(seconds=1000 * burst), 1000))
            read = 600 + 1000 * burst
            wait_until(lambda read=read: metric(web, "meso360_records_written_total") >= read, message="the rows read")
        wait_until(
            lambda: metric(web, "meso360_sse_clients") == 0,
            timeout=SEND_STALL_S + 30,
            message="the stalled client to be dropped",
        )
    finally:
        sock.close()
    assert requests.get(web.url + "/healthz", timeout=10).status_code == 200


def test_stopping_with_streams_open_ends_them_cleanly_without_a_traceback(web):
    streams = [
        requests.get(web.url + path, stream=True, timeout=(5, 30))
        for path in ("/api/stream", "/api/stream", "/api/tail/stream", "/api/log/stream")
    ]
    try:
        wait_until(lambda: metric(web, "meso360_sse_clients") == 2, timeout=30, message="the live streams")
        assert web.stop() == 0
    finally:
        for stream in streams:
            stream.close()
    assert "Traceback" not in web.log() and "ERROR" not in web.log(), web.log()


def test_clients_that_ask_for_big_answers_and_never_read_them_do_not_blow_up_the_memory(tmp_path):
    """300 connections each ask for the 2 h history uncompressed (0.7 MB) and read nothing: the answers
    waiting for them are bounded (503 beyond), /healthz still answers and the daemon stays under 100 MB."""
    (tmp_path / "data").mkdir()
    write_day(tmp_path / "data", DAY, make_rows(DAY, 7200))
    web = start_web(tmp_path)
    sockets = []
    try:
        request = b"GET /api/history HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept-Encoding: identity\r\n\r\n"
        peak_rss_mb = 0.0
        for _ in range(300):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.connect(("127.0.0.1", web.port))
            sock.sendall(request)
            sockets.append(sock)
            peak_rss_mb = max(peak_rss_mb, rss_mb(web.process.pid))
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            peak_rss_mb = max(peak_rss_mb, rss_mb(web.process.pid))
            time.sleep(0.1)  # sampling the RSS for a while, not a synchronisation
        assert requests.get(web.url + "/healthz", timeout=HEALTH_ANSWER_LIMIT_S).status_code == 200
        print(f"peak RSS {peak_rss_mb:.0f} MB")
        assert peak_rss_mb < RSS_LIMIT_MB
    finally:
        for sock in sockets:
            sock.close()
        web.stop()
