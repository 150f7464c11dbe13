"""`make demo` run twice, as a newcomer does: scripts/demo.py, Ctrl-C, scripts/demo.py again.

The real demo script starts the real simulator, ingest and web daemons (on free loopback ports: --sim-port 0
--web-port 0, in tmp_path).
The second run must go on as the same logger: no GPS second twice, time never going back, the records the
simulator produced while the demo was stopped backfilled, the signature kept.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from meso360 import datafile, gaps

DEMO_SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "demo.py"
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0
STOPPED_SECONDS = 4.0  # how long the demo stays stopped: the logger produces records meanwhile


def wait_until(condition, timeout, message):
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"{message}: not within {timeout} s")
        time.sleep(0.2)  # polling with a deadline
    return result


class Demo:
    """One run of scripts/demo.py in its own session, stopped with SIGINT (Ctrl-C) by pid."""

    def __init__(self, directory, run_number):
        self.directory = directory
        self.log_path = directory.parent / f"demo-run-{run_number}.log"
        ports_file = directory / "sim-ports.json"
        ports_file.unlink(missing_ok=True)
        command = [sys.executable, str(DEMO_SCRIPT), "--dir", str(directory)]
        command += ["--sim-port", "0", "--web-port", "0"]  # free ports, chosen by the programs
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
            )
        ports = wait_until(lambda: self._ports(ports_file), START_TIMEOUT_S, "the demo's simulator ports file")
        self.control_url = f"http://127.0.0.1:{ports['control']}"

    def _ports(self, path):
        if self.process.poll() is not None:
            raise AssertionError(f"demo exited with {self.process.returncode}: {self.log_path.read_text()}")
        return json.loads(path.read_text()) if path.exists() else None

    def control(self, path, **params):
        answer = requests.get(self.control_url + path, params=params, timeout=70)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def expected_rows(self, newest):
        """The data file row of every record the simulator holds or produced, oldest first: {row: number}."""
        records = self.control("/records", **{"from": 0, "to": newest})["records"]
        return {",".join(datafile.obs_row_from_raw(record["vals"])): record["no"] for record in records}

    def wait_until_written(self, number):
        """Wait until ingest wrote the row of record `number`."""
        self.control("/wait", record=number, timeout=30)
        row = next(row for row, no in self.expected_rows(number).items() if no == number)
        wait_until(lambda: row in file_rows(self.directory), START_TIMEOUT_S, f"record {number} in the files")

    def interrupt(self):
        """Ctrl-C: SIGINT to the demo, which stops its programs; return its exit code."""
        os.kill(self.process.pid, signal.SIGINT)
        try:
            return self.process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)  # its own session: the demo and what it started
            self.process.wait(timeout=10)
            raise AssertionError(f"the demo did not stop on SIGINT: {self.log_path.read_text()}") from None


def file_rows(directory):
    rows = []
    for path in datafile.daily_files(directory / "data"):
        rows += [line for line in path.read_text().splitlines() if line and line != datafile.OBS_HEADER]
    return rows


def test_demo_run_twice_goes_on_as_the_same_logger_and_backfills_the_stopped_time(tmp_path):
    directory = tmp_path / "demo-data"
    first = Demo(directory, 1)
    try:
        newest = first.control("/state")["newest_record"]
        first.wait_until_written(newest + 2)
        signature = first.control("/state")["signature"]
    finally:
        assert first.interrupt() == 0
    stopped_at = time.monotonic()
    rows_before = file_rows(directory)
    wait_until(lambda: time.monotonic() - stopped_at >= STOPPED_SECONDS, STOPPED_SECONDS + 5, "the stop")

    second = Demo(directory, 2)
    try:
        state = second.control("/state")
        first_new = state["oldest_record"] + state["resumed"]["held"]  # the first record produced while stopped
        target = state["newest_record"] + 3
        second.wait_until_written(target)
        expected = second.expected_rows(target)
    finally:
        assert second.interrupt() == 0

    for path in datafile.daily_files(directory / "data"):
        report = gaps.analyze_file(path)
        assert (report.duplicates, report.backward_jumps) == (0, 0), report.as_dict()
    assert state["signature"] == signature
    assert state["resumed"]["produced_while_stopped"] >= STOPPED_SECONDS - 1
    rows = file_rows(directory)
    assert rows[: len(rows_before)] == rows_before  # the first run's rows are untouched
    # Every row is one of this logger's records, each once, in order, with no hole up to the target.
    numbers = [expected.get(row) for row in rows]
    assert None not in numbers, rows[numbers.index(None)]
    assert numbers == list(range(numbers[0], target + 1))
    assert first_new in numbers  # the records produced while the demo was stopped were backfilled
    times = [datafile.row_timestamp(row.split(",")) for row in rows]
    assert all(later > earlier for earlier, later in zip(times, times[1:], strict=False))
