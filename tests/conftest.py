"""Shared pytest fixtures. The logger simulator fixture comes first; other fixtures follow below it."""

import itertools
import json
import subprocess
import sys
import time

import pytest
import requests

SIMULATOR_START_TIMEOUT_S = 30.0
_simulator_numbers = itertools.count(1)


class SimulatorProcess:
    """A running `meso360-sim` subprocess on loopback, with helpers for its control API.

    Attributes: url (logger base URL, no trailing slash), control_url, port, control_port, process, log_path.
    """

    def __init__(self, process, ports, log_path):
        self.process = process
        self.port = ports["logger"]
        self.control_port = ports["control"]
        self.url = f"http://127.0.0.1:{self.port}"
        self.control_url = f"http://127.0.0.1:{self.control_port}"
        self.log_path = log_path

    def _control(self, method, path, **kwargs):
        answer = requests.request(method, self.control_url + path, timeout=70, **kwargs)
        if answer.status_code != 200:
            raise AssertionError(f"simulator control {method} {path}: {answer.status_code} {answer.text}")
        return answer.json()

    def fault(self, kind, **params):
        """Inject a fault, e.g. fault("http_error", status=503, count=2); return the simulator's answer."""
        return self._control("POST", "/fault", json={"kind": kind, **params})

    def clear(self):
        """Drop pending faults and end an outage early."""
        return self._control("POST", "/clear")

    def state(self):
        """Return {newest_record, oldest_record, signature, records_total, requests, faults, ...}."""
        return self._control("GET", "/state")

    def records(self, table="Obs", first=0, last=None, signature=None):
        """Return the raw records first..last (inclusive) the simulator produced, as dicts {no, time, vals}.

        vals are the exact value tokens (strings unquoted, missing numbers "NAN"), including records the
        ring table has already dropped. signature selects records from before a recompile.
        """
        params = {"table": table, "from": first}
        if last is not None:
            params["to"] = last
        if signature is not None:
            params["signature"] = signature
        return self._control("GET", "/records", params=params)["records"]

    def wait_for_record(self, number, timeout=30.0):
        """Block until record `number` exists in the logger table; raise AssertionError after `timeout` s."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            answer = self._control("GET", "/wait", params={"record": number, "timeout": max(min(remaining, 30), 0)})
            if answer["reached"]:
                return answer["newest_record"]
            if time.monotonic() >= deadline:
                raise AssertionError(f"record {number} not produced within {timeout} s: {self.state()}")

    def stop(self):
        """Terminate (SIGTERM), then kill if it does not end within 5 s. Return the exit code."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        return self.process.returncode


def start_simulator_process(directory, rate=10, **options):
    """Start `meso360-sim` on port 0 in `directory`; return a SimulatorProcess once its ports are known.

    Options are CLI options with underscores: start_time="2026-11-26T23:59:30Z", prefill=100, table_size=50,
    page_size=20, no_dataquery=True, username="u", password="p". True adds a flag, None/False omit it.
    """
    number = next(_simulator_numbers)
    ports_file = directory / f"sim-{number}.ports.json"
    log_path = directory / f"sim-{number}.log"
    command = [sys.executable, "-m", "meso360.sim.cli", "--port", "0", "--control-port", "0"]
    command += ["--ports-file", str(ports_file), "--rate", str(rate)]
    for name, value in options.items():
        flag = "--" + name.replace("_", "-")
        if value is True:
            command.append(flag)
        elif value is not None and value is not False:
            command += [flag, str(value)]
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + SIMULATOR_START_TIMEOUT_S
    while not ports_file.exists():
        if process.poll() is not None:
            raise AssertionError(f"meso360-sim exited with {process.returncode}: {log_path.read_text()}")
        if time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"meso360-sim wrote no ports file within {SIMULATOR_START_TIMEOUT_S} s")
        time.sleep(0.02)  # polling a file with a deadline, not synchronising on elapsed time
    return SimulatorProcess(process, json.loads(ports_file.read_text()), log_path)


@pytest.fixture
def simulator(tmp_path):
    """Factory fixture: `sim = simulator(tmp_path, rate=10, **options)` starts a real meso360-sim subprocess.

    Returns a SimulatorProcess with .url (logger base URL), .control_url, .fault(kind, **params), .clear(),
    .state(), .records(table, first, last), .wait_for_record(n, timeout) and .stop(). Every simulator started
    through the factory is stopped (terminate, then kill) at teardown. The directory argument is optional
    (default: the test's tmp_path); it receives the ports file and the simulator's log.
    """
    started = []

    def start(directory=None, rate=10, **options):
        sim = start_simulator_process(directory or tmp_path, rate=rate, **options)
        started.append(sim)
        return sim

    yield start
    for sim in started:
        sim.stop()


REAL_SHIFT_SECONDS = 3 * 3600  # 17:52:28..23:59:59 becomes 20:52:28 on 5 June..02:59:59 on 6 June


@pytest.fixture
def real_days_across_midnight(tmp_path):
    """The packaged real observations moved 3 h later and written as the two daily files they then fall in.

    Every cell but gps_date and gps_time is the real one. Returns data_dir with 20250605.txt and 20250606.txt.
    """
    import datetime
    from pathlib import Path

    from meso360.datafile import GPS_DATE_COLUMN, GPS_TIME_COLUMN, OBS_HEADER, RowReader, format_gps_datetime

    reader, days = RowReader(), {}
    real_observations = Path(__file__).resolve().parents[1] / "test_data" / "test.txt"
    for line in real_observations.read_text().splitlines()[1:]:
        seconds, row = reader.parse(line)
        when = datetime.datetime.fromtimestamp(seconds + REAL_SHIFT_SECONDS, datetime.UTC)
        row[GPS_DATE_COLUMN], row[GPS_TIME_COLUMN] = format_gps_datetime(when)
        days.setdefault(f"{when:%Y%m%d}.txt", [OBS_HEADER]).append(",".join(row))
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    for name, lines in days.items():
        (data_dir / name).write_text("\n".join(lines) + "\n")
    return data_dir
