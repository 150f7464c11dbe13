"""`make demo` as a newcomer uses it: scripts/demo.py, its panel, Ctrl-C, scripts/demo.py again.

The real demo script starts the real simulator, ingest and web daemons (on free loopback ports: --sim-port 0
--web-port 0, in tmp_path).
The second run must go on as the same logger: no GPS second twice, time never going back, the records the
simulator produced while the demo was stopped backfilled, the signature kept.
The demo's panel shows the programs the demo runs (their real processes), its printed password lets a newcomer
control them (over HTTP, and in headless Chromium), and its log view shows their log lines.
"""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from browser_helpers import PageErrors, chromium_browser, chromium_missing, screenshot
from web_helpers import read_events

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

    def panel(self):
        """Wait for the demo's panel line; return (web URL, control password)."""
        line = re.compile(r"^demo: panel +(http://127\.0\.0\.1:[0-9]+)/ +control password: (\S+)", re.MULTILINE)
        match = wait_until(lambda: line.search(self.log_path.read_text()), START_TIMEOUT_S, "the demo's panel line")
        return match.group(1), match.group(2)

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
        expected = second.expected_rows(target + 60)  # every record so far: the target and any after it
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
    known = [expected.get(row) for row in rows]
    # Ctrl-C comes a moment after the target's row was seen: under load ingest may write a record or two more
    # meanwhile, even newer than `expected` knows (seen in CI). Those come after the target's row, and only them.
    end = known.index(target) + 1
    assert all(number is None or number > target for number in known[end:]) and len(known) - end <= 10, known[end:]
    numbers = known[:end]
    assert None not in numbers, rows[numbers.index(None)]
    assert numbers == list(range(numbers[0], target + 1))
    assert first_new in numbers  # the records produced while the demo was stopped were backfilled
    times = [datafile.row_timestamp(row.split(",")) for row in rows]
    assert all(later > earlier for earlier, later in zip(times, times[1:], strict=False))


def units(url):
    return {unit["component"]: unit for unit in requests.get(url + "/api/status", timeout=10).json()["units"]}


def pid_of(unit):
    """The pid the demo reports for a unit ("pid N (run by the demo)"), or None."""
    match = re.fullmatch(r"pid ([0-9]+) \(run by the demo\)", unit["status_text"])
    return int(match.group(1)) if match else None


def command_line(pid):
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""  # no such process


def test_the_demo_panel_shows_and_controls_the_demo_processes_with_the_printed_password(tmp_path):
    demo = Demo(tmp_path / "demo-data", 1)
    try:
        url, password = demo.panel()
        status = requests.get(url + "/api/status", timeout=10).json()
        assert status["systemd"] == {"available": True, "detail": "", "source": "demo", "supervisor": "demo"}
        shown = units(url)
        for name, module in (
            ("sim", "meso360.sim.cli"),
            ("ingest", "meso360.ingest.daemon"),
            ("web", "meso360.web.daemon"),
        ):
            assert (shown[name]["active"], shown[name]["health"]) == ("active", "ok"), shown[name]
            assert module in command_line(pid_of(shown[name]))  # the real process the demo started
        assert (shown["tunnel"]["health"], shown["tunnel"]["configured"]) == ("idle", False)  # the demo runs none
        metrics = requests.get(url + "/metrics", timeout=10).text
        for name in ("sim", "ingest", "web"):
            assert f'meso360_unit_active{{unit="meso360-{name}.service"}} 1' in metrics

        session = requests.Session()
        action = url + "/api/control"
        assert session.post(action, json={"action": "restart", "component": "ingest"}, timeout=10).status_code == 401
        assert session.post(url + "/api/login", json={"password": "guess"}, timeout=10).status_code == 401
        login = session.post(url + "/api/login", json={"password": password}, timeout=10)
        assert login.status_code == 200, login.text
        headers = {"X-CSRF-Token": login.json()["csrf_token"]}

        def act(verb, name):
            answer = session.post(action, json={"action": verb, "component": name}, headers=headers, timeout=40)
            return answer.status_code, answer.json()

        first_pid = pid_of(shown["ingest"])
        assert act("restart", "ingest") == (200, {"ok": True, "action": "restart", "unit": "meso360-ingest.service",
                                                 "result": "ingest restarted"})  # fmt: skip
        ingest = wait_until(
            lambda: units(url)["ingest"] if units(url)["ingest"]["restarts"] == 1 else None, 10, "a restart"
        )
        assert pid_of(ingest) != first_pid and "meso360.ingest.daemon" in command_line(pid_of(ingest))
        assert command_line(first_pid) == ""  # the old process is gone

        assert act("stop", "ingest")[0] == 200
        stopped = wait_until(
            lambda: (lambda u: u if u["active"] == "inactive" else None)(units(url)["ingest"]), 10, "stop"
        )
        assert (stopped["health"], stopped["reason"], pid_of(stopped)) == ("unhealthy", "enabled but not running", None)
        assert command_line(pid_of(ingest)) == ""
        assert act("start", "ingest")[0] == 200
        running = wait_until(
            lambda: (lambda u: u if u["active"] == "active" else None)(units(url)["ingest"]), 10, "start"
        )

        # A program that dies by itself is shown failed, from the real process's end.
        os.kill(pid_of(running), signal.SIGKILL)
        failed = wait_until(
            lambda: (lambda u: u if u["active"] == "failed" else None)(units(url)["ingest"]), 10, "failed"
        )
        assert (failed["health"], failed["reason"]) == ("unhealthy", "failed (signal)")
        assert act("restart", "ingest")[0] == 200
        wait_until(lambda: units(url)["ingest"]["health"] == "ok", 10, "ingest running again")
        # What the demo cannot do is refused with the reason.
        code, refused = act("enable", "ingest")
        assert code == 502 and "start at boot" in refused["error"]
        code, refused = act("stop", "web")
        assert code == 502 and "serves this panel" in refused["error"]

        # The log view shows the demo's programs' log lines (not "no journal").
        with requests.get(url + "/api/log/stream?lines=400", stream=True, timeout=10) as stream:
            entries = read_events(stream, 20, timeout=20, event_type="log")
        assert {"meso360-ingest.service", "meso360-web.service"} <= {entry["unit"] for entry in entries}
        assert any("control: restart meso360-ingest.service by operator" in entry["message"] for entry in entries)

        # The web daemon restarted from its own panel comes back on the same address, a new process.
        web_pid = pid_of(units(url)["web"])
        assert act("restart", "web")[0] == 200
        wait_until(lambda: command_line(web_pid) == "", 20, "the old web process gone")
        web = wait_until(lambda: _answering(url), START_TIMEOUT_S, "the web daemon back")["web"]
        assert web["active"] == "active" and pid_of(web) != web_pid
    finally:
        assert demo.interrupt() == 0


def _answering(url):
    try:
        return units(url)
    except requests.RequestException:
        return None


def test_a_newcomer_controls_the_demo_from_the_panel_in_chromium(tmp_path):
    missing = chromium_missing()
    if missing is not None:
        pytest.fail(missing)  # `make venv` and the Debian chromium provide it: never a silent skip
    demo = Demo(tmp_path / "demo-data", 1)
    try:
        url, password = demo.panel()
        with chromium_browser() as browser:
            context = browser.new_context(viewport={"width": 1440, "height": 900})
            context.set_default_timeout(15000)
            page = context.new_page()
            errors = PageErrors(page, url)
            page.goto(url + "/")
            page.wait_for_selector("#component-ingest .state:has-text('running')")  # or "running (just started)"
            assert "programs of the demo (scripts/demo.py)" in page.inner_text("#systemd-note")
            assert page.is_hidden("#readonly-note")  # the demo sets a password: no `sudo systemctl` advice
            # The log tab shows the demo's log lines, and no stale "connecting..." line.
            wait_until(lambda: "meso360.ingest" in page.inner_text("#tail"), 20, "ingest's log lines in the log tab")
            assert "connecting" not in page.inner_text("#tail")
            # The host CPU: a share of the machine, then each core's.
            cpu = page.locator("#resources-card .kv", has_text="CPU").inner_text()
            cores = os.cpu_count()
            pattern = r"CPU\s+(--|[0-9]+\.[0-9] %)" + (
                rf" \(cores( [0-9]+ /){{{cores - 1}}} [0-9]+ %\)" if cores > 1 else ""
            )
            wait_until(
                lambda: re.fullmatch(pattern, page.locator("#resources-card .kv", has_text="CPU").inner_text()), 10, cpu
            )

            page.fill("#password", password)
            page.click("#login-btn")
            page.wait_for_selector("#logged-in", state="visible")
            restart = "#component-ingest button[data-action='restart']"
            page.wait_for_selector(restart + ":not([disabled])")
            assert (
                page.locator(
                    "#components button[data-action='enable'], #components button[data-action='disable']"
                ).count()
                == 0
            )
            assert page.locator("#component-web button[data-action='stop']").count() == 0
            old_pid = pid_of(units(url)["ingest"])
            page.click(restart)
            wait_until(lambda: "restart ingest: ingest restarted" in page.inner_text("#flash"), 30, "restart answered")
            assert pid_of(units(url)["ingest"]) != old_pid
            wait_until(lambda: "restarts: 1" in page.inner_text("#component-ingest"), 10, "the restart count shown")
            screenshot(page, "demo-panel")
            context.close()
            assert errors.errors == [] and errors.foreign_requests == [], (errors.errors, errors.foreign_requests)
    finally:
        assert demo.interrupt() == 0
