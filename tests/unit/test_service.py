"""The daemon skeleton (config errors, crashes, stop signals, sd_notify), its watchdog-fed wait and Backoff."""

import argparse
import logging
import os
import signal
import socket
import threading
import time

import pytest

from meso360 import service
from meso360.errors import EXIT_CONFIG, EXIT_FAILURE, EXIT_OK, ConfigError

SIGNAL_TIMEOUT_S = 10.0


@pytest.fixture(autouse=True)
def restored_process_state():
    """The skeleton installs signal handlers and logging for the whole process: give pytest its own back."""
    handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    root = logging.getLogger()
    root_handlers, root_level = list(root.handlers), root.level
    yield
    for signum, handler in handlers.items():
        signal.signal(signum, handler)
    root.handlers[:] = root_handlers
    root.setLevel(root_level)


class NotifySocket:
    """systemd's side of NOTIFY_SOCKET: a real unix datagram socket; receive() returns the messages sent so far."""

    def __init__(self, path):
        self.path = str(path)
        self.socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.socket.bind(self.path)
        self.socket.setblocking(False)

    def receive(self):
        messages = []
        while True:
            try:
                messages.append(self.socket.recv(4096).decode())
            except BlockingIOError:
                return messages


@pytest.fixture
def notify_socket(tmp_path, monkeypatch):
    listener = NotifySocket(tmp_path / "notify.sock")
    monkeypatch.setenv("NOTIFY_SOCKET", listener.path)
    yield listener
    listener.socket.close()


def write_config(tmp_path, text=""):
    path = tmp_path / "meso360.conf"
    path.write_text(f"[meso360]\nstate_dir = {tmp_path / 'state'}\n{text}")
    return str(path)


def run_main(config_path, run):
    """Run service.main as a daemon would; return its exit code."""
    args = argparse.Namespace(config=config_path, verbose=False)
    with pytest.raises(SystemExit) as exited:
        service.main(args, "meso360.test", run)
    return exited.value.code


def test_a_config_error_exits_78_with_every_problem_logged_and_the_daemon_not_run(tmp_path, capsys):
    ran = []
    config_path = write_config(tmp_path, "[ingest]\npoll_interval = often\n[web]\nlisten = nowhere\n")
    assert run_main(config_path, lambda *arguments: ran.append(arguments)) == EXIT_CONFIG
    logged = capsys.readouterr().err
    assert "ingest.poll_interval" in logged and "web.listen" in logged
    assert "configuration invalid" in logged
    assert ran == []


def test_an_uncaught_exception_exits_1_with_its_traceback_logged(tmp_path, capsys, notify_socket):
    def run(_config, _stop_event, _notifier):
        raise RuntimeError("the loop broke")

    assert run_main(write_config(tmp_path), run) == EXIT_FAILURE
    logged = capsys.readouterr().err
    assert "Traceback" in logged and "RuntimeError: the loop broke" in logged
    assert "STOPPING=1" in notify_socket.receive()


def test_a_config_error_found_while_running_exits_78(tmp_path, capsys):
    def run(_config, _stop_event, _notifier):
        raise ConfigError(["tunnel.key_file: /nowhere cannot be read"])

    assert run_main(write_config(tmp_path), run) == EXIT_CONFIG
    assert "tunnel.key_file: /nowhere cannot be read" in capsys.readouterr().err


def test_sigterm_sets_the_stop_event_and_stopping_goes_to_the_notify_socket(tmp_path, capsys, notify_socket):
    seen = {}

    def run(config, stop_event, notifier):
        seen["config_path"] = config.path
        notifier.ready("serving")
        os.kill(os.getpid(), signal.SIGTERM)
        seen["stopped"] = stop_event.wait(SIGNAL_TIMEOUT_S)
        seen["before_return"] = notify_socket.receive()

    config_path = write_config(tmp_path)
    assert run_main(config_path, run) == EXIT_OK
    assert seen["stopped"] is True
    assert str(seen["config_path"]) == config_path
    assert seen["before_return"] == ["READY=1\nSTATUS=serving"]
    assert notify_socket.receive() == ["STOPPING=1"]
    assert "received SIGTERM, stopping" in capsys.readouterr().err


def test_serve_without_a_config_returns_the_code_of_run(notify_socket):
    # The simulator's way: no config file, the rest of the skeleton.
    assert service.serve(logging.getLogger("meso360.test"), lambda _stop_event, _notifier: 2) == 2
    assert notify_socket.receive() == ["STOPPING=1"]


def test_the_wait_feeds_the_watchdog_each_slice_and_returns_false_at_the_end(monkeypatch):
    monkeypatch.setattr(service, "WAIT_SLICE_S", 0.02)
    slices = []
    started = time.monotonic()
    assert service.wait_feeding_watchdog(threading.Event(), 0.1, lambda: slices.append(time.monotonic())) is False
    assert time.monotonic() - started >= 0.1
    assert 2 <= len(slices) <= 6  # about one per 0.02 s slice (fewer when this machine is loaded)


def test_the_wait_returns_true_at_once_when_stopped():
    stop_event = threading.Event()
    stop_event.set()
    slices = []
    started = time.monotonic()
    assert service.wait_feeding_watchdog(stop_event, 60, lambda: slices.append(1)) is True
    assert slices == [] and time.monotonic() - started < 5


def test_backoff_steps_double_from_the_first_up_to_the_cap():
    backoff = service.Backoff(maximum_s=30, first_s=1)
    steps = []
    for _ in range(8):
        backoff.next_delay()
        steps.append(backoff.step_s)
    assert steps == [1, 2, 4, 8, 16, 30, 30, 30]


def test_backoff_delays_are_jittered_within_the_upper_half_of_their_step():
    for step_s in (1, 2, 4, 8):
        delays = []
        for _ in range(50):
            backoff = service.Backoff(maximum_s=60, first_s=step_s)
            delays.append(backoff.next_delay())
        assert all(step_s / 2 <= delay <= step_s for delay in delays)
        assert len(set(delays)) > 1  # random, so that two daemons retrying together drift apart


def test_backoff_reset_starts_again_from_the_first_step():
    backoff = service.Backoff(maximum_s=60)
    for _ in range(6):
        backoff.next_delay()
    backoff.reset()
    assert backoff.next_delay() <= 1 and backoff.step_s == 1


def test_backoff_cap_shortens_the_step_in_progress():
    backoff = service.Backoff(maximum_s=30)
    for _ in range(5):
        backoff.next_delay()
    backoff.cap(1.0)
    assert backoff.step_s == 1.0
    assert backoff.next_delay() <= 1.0
    backoff.cap(30)
    backoff.next_delay()
    assert backoff.step_s == 2.0
