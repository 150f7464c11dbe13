"""The real meso360-web process given bad input: every bad request gets a clear 4xx, never a 500 or a
Python message; request sizes are limited; downloads stay inside the data directories."""

import os
import socket
import time

import pytest
import requests
from test_web_api import DAY, PASSWORD, make_rows, write_day
from web_helpers import start_web

from meso360.web.auth import hash_password
from meso360.web.server import MAX_BODY_BYTES, MAX_HEADER_BYTES, REQUEST_DEADLINE_S


def start_web_with_password(tmp_path, rows):
    """Start the web daemon on `rows` rows of DAY, with PASSWORD as the operator password."""
    (tmp_path / "data").mkdir()
    write_day(tmp_path / "data", DAY, make_rows(DAY, rows))
    return start_web(tmp_path, f"[web]\npassword_hash = {hash_password(PASSWORD)}\n")


@pytest.fixture
def web(tmp_path):
    process = start_web_with_password(tmp_path, 60)
    yield process
    process.stop()


def _short(value):
    return value if len(value) < 60 else value[:40] + f"...({len(value)} characters)"


@pytest.mark.parametrize(
    ("path", "words"),
    [
        ("/api/history/20251105?points=%B2%B2", "points must be a whole number"),
        ("/api/history/20251105?points=" + "9" * 5000, "points must be a whole number"),
        ("/api/history/20251105?points=-5", "points must be a whole number"),
        ("/api/stream?last_id=%B2", "last_id must be a whole number"),
        ("/api/stream?last_id=" + "9" * 5000, "last_id must be a whole number"),
        ("/api/log/stream?lines=%B2", "lines must be a whole number"),
        ("/api/tail/stream?lines=%B2", "lines must be a whole number"),
        ("/api/tail/stream?lines=" + "7" * 5000, "lines must be a whole number"),
    ],
    ids=_short,
)
def test_a_bad_number_in_the_query_is_a_400_that_names_the_parameter(web, path, words):
    answer = requests.get(web.url + path, timeout=10)
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert words in error
    assert "invalid literal" not in error and "Traceback" not in answer.text


def test_a_bad_last_event_id_header_is_a_400(web):
    answer = requests.get(web.url + "/api/stream", headers={"Last-Event-ID": "12x"}, timeout=10)
    assert answer.status_code == 400 and "Last-Event-ID" in answer.json()["error"]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"[" * 2000, 400),
        (b'{"password": ' + b"[" * 100000 + b"}", 413),  # over the server's body limit
        (b"\xff\xfe", 400),
        (b'{"password": "\\ud800"}', 400),
    ],
    ids=["2000 brackets", "100000 brackets", "not UTF-8", "lone surrogate"],
)
def test_a_body_that_is_not_usable_json_is_a_clear_4xx(web, body, status):
    answer = requests.post(web.url + "/api/login", data=body, headers={"Content-Type": "application/json"}, timeout=10)
    assert answer.status_code == status, answer.text
    if status == 400:
        assert answer.json()["ok"] is False and "Traceback" not in answer.text


def test_an_origin_that_is_not_a_url_is_refused_as_cross_origin(web):
    headers = {"Origin": "http://["}
    answer = requests.post(web.url + "/api/login", json={"password": PASSWORD}, headers=headers, timeout=10)
    assert answer.status_code == 403 and "cross-origin" in answer.json()["error"]


@pytest.mark.parametrize("day", ["%D9%A2%D9%A0%D9%A2%D9%A5%D9%A1%D9%A1%D9%A0%D9%A5", "20251105%0A", "..%2F..%2Fetc"])
def test_a_day_that_is_not_eight_ascii_digits_is_a_404(web, day):
    answer = requests.get(web.url + f"/api/history/{day}", timeout=10)
    assert answer.status_code == 404 and answer.json()["ok"] is False


def test_a_request_header_over_the_limit_is_refused_with_431_and_nothing_is_kept(web):
    with socket.create_connection(("127.0.0.1", web.port), timeout=10) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (MAX_HEADER_BYTES + 1024) + b"\r\n\r\n")
        answer = sock.recv(4096)
    assert answer.split(b"\r\n")[0].split(b" ")[1] == b"431", answer[:200]
    assert requests.get(web.url + "/healthz", timeout=10).status_code == 200


def test_a_body_over_the_limit_is_refused_with_413_before_it_is_read(web):
    with socket.create_connection(("127.0.0.1", web.port), timeout=10) as sock:
        sock.sendall(
            b"POST /api/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100000000\r\n\r\n" + b"x" * 1000
        )
        answer = sock.recv(4096)
    assert answer.split(b"\r\n")[0].split(b" ")[1] == b"413", answer[:200]
    # Over the JSON limit of the routes but within the server's: the route's own 413, as JSON.
    big = requests.post(web.url + "/api/login", json={"password": "x" * (MAX_BODY_BYTES // 2)}, timeout=10)
    assert big.status_code == 413 and "larger than" in big.json()["error"]


def test_a_connection_that_sends_its_request_too_slowly_is_closed(web):
    with socket.create_connection(("127.0.0.1", web.port), timeout=REQUEST_DEADLINE_S * 3) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\n")
        started = time.monotonic()
        closed_after = None
        while time.monotonic() - started < REQUEST_DEADLINE_S * 3:
            try:
                sock.sendall(b"X-Slow: x\r\n")
                sock.settimeout(1.0)
                if sock.recv(1) == b"":
                    closed_after = time.monotonic() - started
                    break
            except TimeoutError:
                continue  # still open: send the next line after the 1 s receive timeout
            except OSError:
                closed_after = time.monotonic() - started
                break
    assert closed_after is not None and REQUEST_DEADLINE_S - 1 <= closed_after < REQUEST_DEADLINE_S * 3


def test_a_symlink_in_the_data_directory_that_points_outside_it_is_not_served(web, tmp_path):
    secret = tmp_path / "tunnel_key"
    secret.write_text("-----BEGIN OPENSSH PRIVATE KEY-----\n")
    os.symlink(secret, web.data_dir / "20250101.txt")
    os.symlink(secret, web.support_dir / "20250101_support.txt")
    for name in ("20250101.txt", "20250101_support.txt"):
        answer = requests.get(web.url + f"/data/{name}", timeout=10)
        assert answer.status_code == 404 and "PRIVATE KEY" not in answer.text
    inside = web.data_dir / "20251105.txt"
    os.symlink(inside, web.data_dir / "20251106.txt")  # a link that stays inside is still served
    assert requests.get(web.url + "/data/20251106.txt", timeout=10).text == inside.read_text()
