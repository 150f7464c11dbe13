"""GET /api/export on the real meso360-web process over loopback, on the real observations written as two daily
files across midnight: a logged-in operator downloads the same bytes as meso360ctl export; others are refused."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from web_helpers import start_web

from meso360.web.auth import hash_password

PASSWORD = "export horse 42"
RANGE = {"from": "2025-06-05T23:30:00Z", "to": "2025-06-06T00:30:00Z"}


@pytest.fixture
def export_web(tmp_path, real_days_across_midnight):
    config = f"[meso360]\nvehicle = MM2\ndata_dir = {real_days_across_midnight}\n[web]\n"
    web = start_web(tmp_path, config + f"password_hash = {hash_password(PASSWORD)}\n")
    yield web
    web.stop()


def logged_in(web):
    session = requests.Session()
    assert session.post(web.url + "/api/login", json={"password": PASSWORD}, timeout=10).status_code == 200
    return session


def ctl_export(web, format_name):
    command = [str(Path(sys.executable).parent / "meso360ctl"), "--config", str(web.config_path), "export"]
    args = ["--from", RANGE["from"], "--to", RANGE["to"], "--format", format_name, "-o", "-"]
    return subprocess.run(command + args, capture_output=True, timeout=120, check=True).stdout


def test_a_logged_in_operator_downloads_the_csv_of_meso360ctl_export_byte_for_byte(export_web):
    answer = logged_in(export_web).get(export_web.url + "/api/export", params={**RANGE, "format": "csv"}, timeout=60)
    assert answer.status_code == 200 and answer.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert answer.headers["Content-Disposition"] == (
        'attachment; filename="MM2_2025-06-05T233000Z_2025-06-06T003000Z.csv"'
    )
    assert answer.content == ctl_export(export_web, "csv") and answer.content.count(b"\n") > 3500


def test_the_json_download_holds_the_same_rows_as_meso360ctl_export(export_web):
    answer = logged_in(export_web).get(export_web.url + "/api/export", params={**RANGE, "format": "json"}, timeout=60)
    assert answer.status_code == 200
    downloaded, exported = answer.json(), json.loads(ctl_export(export_web, "json"))
    assert downloaded["rows"] == exported["rows"] and downloaded["variables"] == exported["variables"]


@pytest.mark.parametrize(
    ("params", "status", "message"),
    [
        ({**RANGE, "format": "netcdf"}, 400, "format must be one of csv, json"),
        ({"from": "2025-06-05T23:30:00", "to": RANGE["to"]}, 400, "has no time zone"),
        ({"to": RANGE["to"]}, 400, "give from and to"),
        ({"from": "2025-01-01", "to": "2025-06-06"}, 400, "longer than 31 days"),
        ({"from": "2025-07-01", "to": "2025-07-02"}, 404, "no rows from 2025-07-01T00:00:00Z"),
    ],
)
def test_a_bad_or_empty_range_is_refused_with_a_json_error(export_web, params, status, message):
    answer = logged_in(export_web).get(export_web.url + "/api/export", params=params, timeout=60)
    assert answer.status_code == status and message in answer.json()["error"]


def test_without_a_login_or_a_password_nothing_is_exported(export_web, tmp_path, real_days_across_midnight):
    answer = requests.get(export_web.url + "/api/export", params=RANGE, timeout=10)
    assert answer.status_code == 401 and answer.json()["error"] == "not logged in"
    read_only = start_web(tmp_path / "ro", f"[meso360]\ndata_dir = {real_days_across_midnight}\n")
    try:
        answer = requests.get(read_only.url + "/api/export", params=RANGE, timeout=10)
        assert answer.status_code == 403 and "meso360ctl passwd" in answer.json()["error"]
    finally:
        read_only.stop()
