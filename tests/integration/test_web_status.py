"""/api/status figures that meso360ctl and the panel must agree on: completeness, and the host CPU.

Real: the web daemon process, the `meso360ctl` console script, data files in tmp_path, busy processes.
"""

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import requests
from ingest_helpers import wait_until
from web_helpers import start_web

from meso360.datafile import OBS_HEADER

MESO360CTL = str(Path(sys.executable).with_name("meso360ctl"))
ROW_VALUES = "2.5,180,20,50,21.5,10.25,50,900.5,9"
ROW_POSITION = "33.19,-102.27,1021,0,85.5,28.16"


def write_day(data_dir, first, seconds):
    """Write the daily file of `first`'s date with a row at each offset in `seconds` from `first`."""
    rows = []
    for offset in seconds:
        when = first + dt.timedelta(seconds=offset)
        rows.append(f"{ROW_VALUES},{when:%d%m%y},{when:%H%M%S},{ROW_POSITION}")
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / f"{first:%Y%m%d}.txt").write_text(OBS_HEADER + "\n" + "\n".join(rows) + "\n")


def test_status_api_and_meso360ctl_give_the_same_completeness_for_the_same_files(tmp_path):
    # A stored day: 10 min of rows with a 2-min hole in the middle, its last row long before "now" (the old
    # /api/status counted up to the end of that day and said 1.1 % where meso360ctl said 83.3 %).
    first = dt.datetime(2025, 6, 5, 12, 0, tzinfo=dt.UTC)
    write_day(tmp_path / "data", first, [*range(0, 240), *range(360, 600)])
    web = start_web(tmp_path, "")
    try:
        today = requests.get(web.url + "/api/status", timeout=5).json()["today"]
    finally:
        web.stop()
    answer = subprocess.run(
        [MESO360CTL, "--config", str(web.config_path), "status", "--json"], capture_output=True, text=True, timeout=60
    )
    ctl = json.loads(answer.stdout)["today"]
    assert today["date"] == "20250605" and ctl["file"].endswith("20250605.txt")
    assert today["completeness_pct"] == ctl["completeness_pct"] == round(480 / 600 * 100, 2) == 80.0
    assert ctl["completeness"] == 0.8 and (today["gaps"], today["missing_s"]) == (1, 120) == (ctl["gap_count"], 120)
    text = subprocess.run(
        [MESO360CTL, "--config", str(web.config_path), "status"], capture_output=True, text=True, timeout=60
    ).stdout
    assert "480 rows, 80.0% complete, 1 gaps (120 s missing)" in text


def test_host_cpu_is_a_share_of_the_whole_machine_with_every_core(tmp_path):
    cores = os.cpu_count()
    web = start_web(tmp_path, "")
    # One busy process per core: the machine is fully busy (the old figure said 200 % on two cores).
    spin = "import time\nend = time.monotonic() + 20\nwhile time.monotonic() < end: pass\n"
    busy = [subprocess.Popen([sys.executable, "-c", spin]) for _ in range(cores)]
    try:
        # The first request takes the first sample; the figure is the average since then, once 1 s has passed.
        resources = wait_until(
            lambda: (lambda r: r if r["cpu_pct"] is not None else None)(
                requests.get(web.url + "/api/status", timeout=5).json()["resources"]
            ),
            10,
            "a CPU figure",
        )
        assert 75.0 <= resources["cpu_pct"] <= 100.0, resources
        assert len(resources["cpu_cores_pct"]) == cores == resources["cores"]
        assert all(0.0 <= pct <= 100.0 for pct in resources["cpu_cores_pct"]), resources
    finally:
        for process in busy:
            process.kill()
            process.wait()
        web.stop()
