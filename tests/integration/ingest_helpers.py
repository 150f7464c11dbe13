"""Helpers of the ingest integration tests: config files, the daemon subprocess, expected rows, condition waits."""

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from meso360 import datafile
from meso360.ingest.sequencer import obs_row
from meso360.ingest.support import SupportFormat
from meso360.logger_answers import Record, number_text

REPO = Path(__file__).resolve().parents[2]


def wait_until(condition, timeout=30.0, message="condition", interval=0.05):
    """Poll `condition()` until it returns a truthy value (returned) or fail after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {message}")
        time.sleep(interval)  # polling a condition with a deadline, not synchronising on elapsed time


def write_config(directory, sim_url, support_table="Support", poll_interval=0.5, **ingest):
    """Write an ingest config pointing at the simulator on loopback; return its path."""
    lines = [
        "[meso360]",
        f"data_dir = {directory / 'data'}",
        f"support_dir = {directory / 'support'}",
        f"state_dir = {directory / 'state'}",
        "[ingest]",
        f"logger_url = {sim_url}",
        f"support_table = {support_table}",
        f"poll_interval = {poll_interval}",
        "request_timeout = 2.0",
    ] + [f"{key} = {value}" for key, value in ingest.items()]
    path = directory / "ingest.conf"
    path.write_text("\n".join(lines) + "\n")
    return path


class IngestProcess:
    """The real `python -m meso360.ingest.daemon` subprocess, its log in a file."""

    def __init__(self, config_path, log_path, env=None, preexec_fn=None):
        self.log_path = log_path
        self._log_file = open(log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "meso360.ingest.daemon", "--config", str(config_path)],
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=REPO,
            env={**os.environ, **(env or {})},
            preexec_fn=preexec_fn,
        )

    def log(self):
        return self.log_path.read_text(errors="replace")

    def kill9(self):
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        self._log_file.close()

    def stop(self):
        """SIGTERM the daemon by pid and wait; return its exit code."""
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self._log_file.close()
        return self.process.returncode


def data_rows(directory, support=False):
    """Return all data lines of the daily files in `directory` (oldest file first), headers excluded."""
    pattern = "*_support.txt" if support else "[0-9]*[0-9].txt"
    rows = []
    for path in sorted(Path(directory).glob(pattern)):
        text = path.read_text()
        lines = text.split("\n")
        assert lines[0] in (datafile.OBS_HEADER, datafile.SUPPORT_HEADER), f"{path} has no header"
        assert text.endswith("\n"), f"{path} ends with a partial line"
        rows += [line for line in lines[1:] if line]
    return rows


def rows_on_disk(directory, support=False):
    """Return the complete data lines in `directory` now (headers excluded), tolerating a file the daemon is writing."""
    pattern = "*_support.txt" if support else "[0-9]*[0-9].txt"
    rows = []
    for path in sorted(Path(directory).glob(pattern)):
        text = path.read_text()
        rows += [line for line in text[: text.rfind("\n") + 1].split("\n")[1:] if line]
    return rows


def newest_on_disk(sim, directory, table="Obs", signature=None):
    """Return the number of the simulator record whose row is the last one in the data files now, or -1.

    The state file is saved in batches (every few seconds), so progress is observed on the rows themselves.
    """
    support = table != "Obs"
    rows = rows_on_disk(directory, support=support)
    if not rows:
        return -1
    raws = sim.records(table, signature=signature)
    expected = expected_support_rows(raws) if support else expected_obs_rows(raws)
    for raw, row in zip(reversed(raws), reversed(expected), strict=True):
        if row == rows[-1]:
            return raw["no"]
    return -1


def as_record(raw):
    """Given a simulator /records entry, return the Record the logger API would give (NAN numbers -> nan)."""
    values = [value if number_text(value) is None else number_text(value) for value in raw["vals"]]
    return Record(raw["no"], raw["time"], values)


def expected_obs_rows(raw_records):
    """The file rows of consecutive simulator Obs records (frozen-GPS rule applied in order)."""
    rows, chain = [], (None, None)
    for raw in raw_records:
        row, chain, _flag = obs_row(as_record(raw).values, chain)
        rows.append(",".join(row))
    return rows


def expected_support_rows(raw_records):
    fmt = SupportFormat(Path("/nonexistent"))
    return [fmt.format(as_record(raw), (None, None), None)[1] for raw in raw_records]


def first_record_no(sim, row, table="Obs"):
    """Return the record number whose plain Obs row is `row` (to line a file up with the simulator)."""
    for raw in sim.records(table):
        if expected_obs_rows([raw])[0] == row:
            return raw["no"]
    raise AssertionError(f"row {row!r} is not a simulator record")


def assert_obs_complete(sim, data_dir, last_no=None, signature=None):
    """Assert the data files hold exactly the simulator's records from the first row written to `last_no`."""
    rows = data_rows(data_dir)
    assert rows, "no rows written"
    raws = sim.records("Obs", signature=signature)
    plain = {expected_obs_rows([raw])[0]: raw["no"] for raw in raws}
    first = plain[rows[0]]
    last = first + len(rows) - 1
    expected = expected_obs_rows([raw for raw in raws if first <= raw["no"] <= last])
    assert len(rows) == len(set(rows)), "a row was written twice"
    assert rows == expected, _first_difference(rows, expected)
    assert last_no is None or last >= last_no, f"rows end at record {last}, expected at least {last_no}"
    return first, last


def _first_difference(rows, expected):
    for index, (row, want) in enumerate(zip(rows, expected, strict=False)):
        if row != want:
            return f"row {index} differs:\n got  {row}\n want {want}"
    return f"{len(rows)} rows written, {len(expected)} expected"


class NotifySocket:
    """A real unix datagram socket standing in for systemd's NOTIFY_SOCKET; a thread collects every message
    (like systemd, it always reads: a full socket queue would block the daemon's sends).
    """

    def __init__(self, path):
        self.path = str(path)
        self.socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.socket.bind(self.path)
        self.socket.settimeout(0.1)
        self.messages = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self):
        while not self._stop.is_set():
            try:
                self.messages.append(self.socket.recv(4096).decode())
            except TimeoutError:
                continue

    def drain(self):
        """Return every message received so far."""
        return list(self.messages)

    def close(self):
        self._stop.set()
        self._thread.join(timeout=5)
        self.socket.close()
