"""meso360ctl status on a day file that repeats GPS seconds: not healthy, and it says what it is.

Runs the real `meso360ctl` process on a tmp config and data dir (no systemd here: units are unknown,
the data part is judged alone).
"""

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

from meso360.datafile import OBS_HEADER

MESO360CTL = str(Path(sys.executable).parent / "meso360ctl")


def obs_row(when):
    return f"2.5,180,20,50,21.5,10.25,50,900.5,9,{when:%d%m%y},{when:%H%M%S},33.19,-102.27,1021,0,85.5,28.16"


def write_config(tmp_path):
    for name in ("data", "support", "state"):
        (tmp_path / name).mkdir(exist_ok=True)
    path = tmp_path / "meso360.conf"
    path.write_text(
        f"[meso360]\ndata_dir = {tmp_path / 'data'}\nsupport_dir = {tmp_path / 'support'}\n"
        f"state_dir = {tmp_path / 'state'}\n[ingest]\nlogger_url = http://127.0.0.1:9\n"
    )
    return path


def write_recollected_day(tmp_path, stretch_seconds, repeated_seconds):
    """Today's file, fresh: `stretch_seconds` rows, then the first `repeated_seconds` of them written again
    (a logger re-collected as a new sequence), then one more new second. Return the file path."""
    newest = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(seconds=1)
    start = newest - dt.timedelta(seconds=stretch_seconds)
    times = [start + dt.timedelta(seconds=s) for s in range(stretch_seconds)]
    times += times[:repeated_seconds] + [newest]
    if start.date() != newest.date():  # keep the test inside one UTC day
        times = [when for when in times if when.date() == newest.date()]
    path = tmp_path / "data" / f"{newest:%Y%m%d}.txt"
    path.write_text(OBS_HEADER + "\n" + "\n".join(obs_row(when) for when in times) + "\n")
    return path, sum(1 for when in times[stretch_seconds:-1] if when.date() == newest.date())


def run(config_path, *args):
    return subprocess.run([MESO360CTL, "--config", str(config_path), *args], capture_output=True, text=True, timeout=60)


def test_status_reports_repeated_gps_seconds_as_unhealthy_in_text_and_json(tmp_path):
    config_path = write_config(tmp_path)
    path, repeated = write_recollected_day(tmp_path, stretch_seconds=40, repeated_seconds=20)
    assert repeated > 0

    result = run(config_path, "status", "--json")
    assert result.returncode == 1, result.stdout
    status = json.loads(result.stdout)
    assert status["today"]["duplicates"] == repeated
    assert status["healthy"] is False
    (problem,) = status["problems"]
    assert f"{path.name}: {repeated} rows repeat a GPS second already in the file" in problem

    text = run(config_path, "status")
    assert text.returncode == 1
    assert f"{repeated} duplicate times" in text.stdout
    assert f"UNHEALTHY: {path.name}: {repeated} rows repeat a GPS second" in text.stdout


def test_status_of_a_day_without_repeated_seconds_stays_healthy(tmp_path):
    config_path = write_config(tmp_path)
    write_recollected_day(tmp_path, stretch_seconds=40, repeated_seconds=0)
    result = run(config_path, "status", "--json")
    assert result.returncode == 0, result.stdout
    assert json.loads(result.stdout)["today"]["duplicates"] == 0
