"""/metrics of the real meso360-web process: what base scrapes per vehicle, checked by Prometheus's own promtool."""

import datetime as dt
import json
import shutil
import subprocess

import pytest
import requests
from ingest_helpers import wait_until
from test_web_api import DAY, make_rows, write_day
from web_helpers import start_web

import meso360
from meso360 import alarms

PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"  # Debian package `prometheus` (Makefile APT_PACKAGES)
# metric name -> column of the data file (datafile.OBS_COLUMNS) it shows
OBSERVATION_COLUMNS = {
    "meso360_obs_temperature_celsius": 4,  # t_fast
    "meso360_obs_dewpoint_celsius": 5,
    "meso360_obs_pressure_hectopascals": 7,
    "meso360_obs_wind_speed_meters_per_second": 0,
    "meso360_obs_wind_direction_degrees": 1,
    "meso360_obs_heading_degrees": 8,  # compass_dir
    "meso360_obs_latitude_degrees": 11,
    "meso360_obs_longitude_degrees": 12,
}


@pytest.fixture
def web(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "state" / "tunnel").mkdir(parents=True)
    started = start_web(tmp_path, "[tunnel]\nhost = 127.0.0.1\nuser = mm1\nremote_port = 20001\n")
    yield started
    started.stop()


def scrape(web):
    """GET /metrics, check it with `promtool check metrics`, return (text, {sample: value})."""
    response = requests.get(web.url + "/metrics", timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    checked = subprocess.run(
        [PROMTOOL, "check", "metrics"], input=response.text, capture_output=True, text=True, timeout=30, check=False
    )
    assert (checked.returncode, checked.stdout + checked.stderr) == (0, ""), response.text
    samples = {}
    for line in response.text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            assert name not in samples, f"duplicate sample {name}"
            samples[name] = float(value)
    return response.text, samples


def test_metrics_show_the_newest_row_todays_file_and_the_tunnel_and_pass_promtool(tmp_path, web):
    lines = make_rows(DAY, 100) + make_rows(DAY + dt.timedelta(seconds=110), 50, c0="7.125", c1="271.5", c8="14.25")
    path = write_day(tmp_path / "data", DAY, lines)
    verified = "2025-11-05T00:02:30Z"
    tunnel_state = {"state": "up", "since": "2025-11-05T00:00:10Z", "verified_at": verified, "reconnects": 3}
    (tmp_path / "state" / "tunnel" / "tunnel.json").write_text(json.dumps(tunnel_state))
    newest = lines[-1].rstrip("\n").split(",")
    newest_ts = int((DAY + dt.timedelta(seconds=159)).timestamp())
    _text, samples = wait_until(
        lambda: (scraped := scrape(web))[1].get("meso360_today_file_rows") == 150 and scraped, message="150 rows"
    )

    assert samples[f'meso360_info{{vehicle="MM1",version="{meso360.__version__}"}}'] == 1
    assert samples["meso360_obs_timestamp_seconds"] == newest_ts
    for name, column in OBSERVATION_COLUMNS.items():
        assert samples[name] == float(newest[column]), name
    assert samples["meso360_obs_wind_speed_meters_per_second"] == 7.125
    assert samples["meso360_obs_heading_degrees"] == 14.25
    assert samples["meso360_newest_observation_age_seconds"] > 0
    assert samples["meso360_today_file_rows"] == 150
    assert samples["meso360_today_file_size_bytes"] == path.stat().st_size
    assert samples["meso360_gaps_today"] == 1 and samples["meso360_missing_seconds_today"] == 10
    assert samples["meso360_tunnel_configured"] == 1 and samples["meso360_tunnel_up"] == 1
    assert samples["meso360_tunnel_last_verified_timestamp_seconds"] == dt.datetime.fromisoformat(verified).timestamp()
    assert samples["meso360_tunnel_reconnects_total"] == 3
    assert {f'meso360_alarm_active{{name="{name}"}}' for name in alarms.ALARM_NAMES} <= set(samples)


def test_a_missing_value_leaves_its_sample_out_and_the_tunnel_down_shows(tmp_path, web):
    path = write_day(tmp_path / "data", DAY, make_rows(DAY, 20))
    wait_until(lambda: scrape(web)[1].get("meso360_today_file_rows") == 20, message="20 rows")
    write_day(tmp_path / "data", DAY, make_rows(DAY + dt.timedelta(seconds=20), 1, c5="NAN", c7=""))
    tunnel_state = {"state": "down", "since": "2025-11-05T00:00:30Z", "verified_at": None, "reconnects": 0}
    (tmp_path / "state" / "tunnel" / "tunnel.json").write_text(json.dumps(tunnel_state))
    size = path.stat().st_size

    text, samples = wait_until(
        lambda: (scraped := scrape(web))[1].get("meso360_today_file_size_bytes") == size and scraped,
        message=f"the file's new size {size}",
    )

    assert samples["meso360_obs_timestamp_seconds"] == int((DAY + dt.timedelta(seconds=20)).timestamp())
    assert samples["meso360_today_file_rows"] == 21
    assert "meso360_obs_dewpoint_celsius" not in samples and "meso360_obs_pressure_hectopascals" not in samples
    assert "# TYPE meso360_obs_dewpoint_celsius gauge" in text
    assert "NaN" not in text
    assert samples["meso360_obs_temperature_celsius"] == float(make_rows(DAY, 1)[0].split(",")[4])
    assert samples["meso360_tunnel_up"] == 0
    assert "meso360_tunnel_last_verified_timestamp_seconds" not in samples
    assert samples["meso360_tunnel_reconnects_total"] == 0
