"""SIGINT stops every daemon and long-running meso360ctl command, even when it was ignored at exec.

A shell script's background job (`cmd &`) and some CI runners start programs with SIGINT ignored, and
Python keeps it ignored: a program relying on Python's KeyboardInterrupt then never stops on Ctrl-C or
`kill -INT`. Each process here is started that way (preexec_fn sets SIG_IGN), then sent SIGINT.
"""

import datetime as dt
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
STOP_TIMEOUT_S = 15.0
START_TIMEOUT_S = 30.0
OBS_ROW = "2.5,180,20,50,21.5,10.25,50,900.5,9,{when:%d%m%y},{when:%H%M%S},33.19,-102.27,1021,0,85.5,28.16"


def ignore_sigint():
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class Started:
    """A process started with SIGINT ignored; its stdout+stderr lines in a queue."""

    def __init__(self, argv, env=None):
        self.process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
            preexec_fn=ignore_sigint,  # noqa: PLW1509 - the point of the test: SIGINT ignored at exec
        )
        self.lines = queue.Queue()
        self.seen = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))

    def wait_for_line(self, text, timeout_s=START_TIMEOUT_S):
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            self.seen.append(line)
            if text in line:
                return line
        raise AssertionError(f"no line with {text!r} within {timeout_s} s; output: {self.seen}")

    def interrupt(self):
        """Send SIGINT; return the exit code once the process ended (fail if it did not stop in time)."""
        started = time.monotonic()
        self.process.send_signal(signal.SIGINT)
        try:
            code = self.process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"still running {STOP_TIMEOUT_S} s after SIGINT") from None
        self.stop_seconds = time.monotonic() - started
        while not self.lines.empty():
            self.seen.append(self.lines.get())
        return code

    def kill(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def started():
    processes = []

    def start(argv, env=None):
        processes.append(Started([str(arg) for arg in argv], env))
        return processes[-1]

    yield start
    for process in processes:
        process.kill()


def write_config(tmp_path, text=""):
    for name in ("data", "support", "state"):
        (tmp_path / name).mkdir(exist_ok=True)
    path = tmp_path / "meso360.conf"
    path.write_text(
        f"[meso360]\ndata_dir = {tmp_path / 'data'}\nsupport_dir = {tmp_path / 'support'}\n"
        f"state_dir = {tmp_path / 'state'}\n{text}"
    )
    return path


def test_the_test_processes_really_start_with_sigint_ignored(started):
    code = "import signal; print('SIGINT', signal.getsignal(signal.SIGINT) == signal.SIG_IGN)"
    started([sys.executable, "-c", code]).wait_for_line("SIGINT True")


def test_meso360ctl_tail_follow_stops_cleanly_on_sigint_when_started_with_it_ignored(tmp_path, started):
    config_path = write_config(tmp_path)
    now = dt.datetime.now(dt.UTC)
    (tmp_path / "data" / f"{now:%Y%m%d}.txt").write_text("header\n" + OBS_ROW.format(when=now) + "\n")
    tail = started([BIN / "meso360ctl", "--config", config_path, "tail", "-n", "1", "-f"])
    tail.wait_for_line(f"{now:%H%M%S}")
    assert tail.interrupt() == 0
    assert not [line for line in tail.seen if "Traceback" in line or "Aborted" in line]


def test_meso360ctl_logs_follow_hands_journalctl_a_sigint_that_stops_it(tmp_path, started):
    # journalctl is replaced by a script first on PATH (no journal here): it announces itself, then waits
    # like `journalctl -f`; meso360ctl execs it, so it inherits meso360ctl's SIGINT disposition.
    tools = tmp_path / "bin"
    tools.mkdir()
    journalctl = tools / "journalctl"
    journalctl.write_text("#!/bin/sh\necho journalctl following\nexec sleep 60\n")
    journalctl.chmod(0o755)
    env = {**os.environ, "PATH": f"{tools}{os.pathsep}{os.environ['PATH']}"}
    logs = started([BIN / "meso360ctl", "--config", write_config(tmp_path), "logs", "-f"], env=env)
    logs.wait_for_line("journalctl following")
    assert logs.interrupt() == -signal.SIGINT


def test_meso360ctl_stops_a_short_command_on_sigint_too(tmp_path, started):
    # `check` waits on a silent logger (request_timeout 8 s): SIGINT ends it at once, with click's "Aborted!".
    silent = __import__("socket").create_server(("127.0.0.1", 0))
    try:
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        config_path = write_config(tmp_path, f"[ingest]\nlogger_url = {url}\nrequest_timeout = 8\n")
        check = started([BIN / "meso360ctl", "--config", config_path, "check"])
        silent.settimeout(START_TIMEOUT_S)
        connection, _ = silent.accept()  # check now waits for the logger's answer
        with connection:
            assert check.interrupt() == 1
            assert check.stop_seconds < 5
        assert any("Aborted!" in line for line in check.seen)
    finally:
        silent.close()


def daemon_commands(tmp_path):
    """Each daemon: (argv, a line it logs once running)."""
    config_path = write_config(
        tmp_path,
        "[ingest]\nlogger_url = http://127.0.0.1:9\nrequest_timeout = 1\n[web]\nlisten = 127.0.0.1:0\n"
        f"[tunnel]\nhost = 127.0.0.1\nport = 9\nuser = meso360\nremote_port = 2222\nkey_file = {tmp_path / 'key'}\n"
        f"known_hosts = {tmp_path / 'known_hosts'}\nretry_max_delay = 1\n",
    )
    return {
        "ingest": ([BIN / "meso360-ingest", "--config", config_path], "logger unreachable"),
        "web": ([BIN / "meso360-web", "--config", config_path, "--port-file", tmp_path / "port"], "listening on"),
        "sim": ([BIN / "meso360-sim", "--port", "0", "--control-port", "0"], "meso360-sim: logger http://"),
        "tunnel": ([BIN / "meso360-tunnel", "--config", config_path], "tunnel down"),
    }


@pytest.mark.parametrize("daemon", ["ingest", "web", "sim", "tunnel"])
def test_each_daemon_stops_cleanly_on_sigint_when_started_with_it_ignored(tmp_path, started, daemon):
    if daemon == "tunnel":
        from meso360.tunnel import keys

        keys.generate_key(tmp_path / "key", "MM1", 2222)
        (tmp_path / "known_hosts").write_text("")
    argv, running_line = daemon_commands(tmp_path)[daemon]
    process = started(argv)
    process.wait_for_line(running_line)
    assert process.interrupt() == 0
    assert not [line for line in process.seen if "Traceback" in line]
