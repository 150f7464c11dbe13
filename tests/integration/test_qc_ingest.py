"""QC flags written by the real meso360-ingest as the real simulator's records arrive: the sidecar grows with the
data file, survives a kill -9 without a duplicate or a lost line, equals `meso360ctl qc DAY` byte for byte, and
`meso360ctl qc report` counts its flags; the data file itself stays exactly what ingest wrote."""

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

from ingest_helpers import IngestProcess, assert_obs_complete, rows_on_disk, wait_until, write_config

from meso360.qc.flags import HEADER_LINE_COUNT, parse_line

MESO360CTL = str(Path(sys.executable).parent / "meso360ctl")


def ctl(config, *args):
    return subprocess.run(
        [MESO360CTL, "--config", str(config), *args], capture_output=True, text=True, timeout=120, check=False
    )


def day_files(data_dir):
    """The (data file, its sidecar) of the one day collected."""
    (data,) = (path for path in data_dir.glob("*.txt") if not path.name.endswith("_qc.txt"))
    return data, data.with_name(f"{data.stem}_qc.txt")


def sidecar_rows(sidecar):
    try:
        text = sidecar.read_text()
    except FileNotFoundError:
        return 0
    return len(text[: text.rfind("\n") + 1].splitlines()) - HEADER_LINE_COUNT


def wait_sidecar_caught_up(data_dir, at_least):
    def caught_up():
        rows = len(rows_on_disk(data_dir))
        return rows >= at_least and sidecar_rows(day_files(data_dir)[1]) == rows

    wait_until(caught_up, 60, f"the sidecar to cover {at_least} rows", interval=0.1)


def test_ingest_writes_the_sidecar_as_rows_arrive_and_it_equals_a_recompute(simulator, tmp_path):
    today = dt.datetime.now(dt.UTC).date()  # rows without fix go to the host date's file: the same day
    sim = simulator(rate=20, start_time=f"{today}T00:00:10Z")
    config = write_config(tmp_path, sim.url, support_table="", first_start="all")
    data_dir = tmp_path / "data"
    daemon = IngestProcess(config, tmp_path / "ingest.log")
    try:
        wait_sidecar_caught_up(data_dir, 40)
        first = sidecar_rows(day_files(data_dir)[1])
        sim.fault("no_fix", count=5)
        wait_until(lambda: sim.state()["newest_record"] >= first + 60, 60, "60 more records")
        wait_sidecar_caught_up(data_dir, first + 60)
        daemon.kill9()  # within the QC thread's interval: its resume must neither repeat nor lose a line
        daemon = IngestProcess(config, tmp_path / "ingest.log")
        newest = sim.wait_for_record(sim.state()["newest_record"] + 40)
        wait_sidecar_caught_up(data_dir, len(rows_on_disk(data_dir)) + 30)
    finally:
        assert daemon.stop() == 0
    assert_obs_complete(sim, data_dir, newest)  # QC never changes what ingest writes
    data, sidecar = day_files(data_dir)
    written = sidecar.read_bytes()
    assert [parse_line(line)[0] for line in written.decode().splitlines()[HEADER_LINE_COUNT:]] == list(
        range(1, len(rows_on_disk(data_dir)) + 1)
    )
    no_fix = [line for line in written.decode().splitlines() if ",nan,9,2999," in line]
    assert len(no_fix) == 5
    result = ctl(config, "qc", str(today))
    assert result.returncode == 0, result.stderr
    assert sidecar.read_bytes() == written
    report = ctl(config, "qc", "report", f"{today:%Y%m%d}", "--json")
    assert report.returncode == 0, report.stderr
    counts = json.loads(report.stdout)
    assert counts["rows"] == counts["data_rows"] == len(rows_on_disk(data_dir))
    assert {"check": "fix", "variable": "gps", "suspect": 0, "bad": 5} in counts["flags"]
    text = ctl(config, "qc", "report", str(today))
    assert "fix          gps                 0        5" in text.stdout


def test_qc_report_of_a_day_without_sidecar_says_how_to_make_it(tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "20250605.txt").write_bytes(
        (Path(__file__).resolve().parents[2] / "test_data" / "test.txt").read_bytes()
    )
    config = tmp_path / "c.conf"
    config.write_text(f"[meso360]\ndata_dir = {data_dir}\n")
    result = ctl(config, "qc", "report", "2025-06-05")
    assert result.returncode == 1 and "meso360ctl qc 20250605" in result.stderr
    assert ctl(config, "qc", "2025-06-05").returncode == 0
    counts = json.loads(ctl(config, "qc", "report", "2025-06-05", "--json").stdout)
    assert counts["rows"] == 21882  # the last line of test.txt has no newline: not complete, not checked yet
    assert counts["suspect_rows"] + counts["bad_rows"] < 0.01 * counts["rows"]
