"""The Notifier on the sdnotify library: messages on a real unix datagram socket, STATUS only on change."""

import os
import socket

import pytest

from meso360.notify import Notifier


@pytest.fixture
def listener(tmp_path, monkeypatch):
    """systemd's side of NOTIFY_SOCKET: a real unix datagram socket."""
    path = str(tmp_path / "notify.sock")
    receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    receiver.bind(path)
    receiver.setblocking(False)
    monkeypatch.setenv("NOTIFY_SOCKET", path)
    yield receiver
    receiver.close()


def received(receiver):
    messages = []
    while True:
        try:
            messages.append(receiver.recv(4096).decode())
        except BlockingIOError:
            return messages


def test_each_message_reaches_the_notify_socket(listener):
    notifier = Notifier()
    notifier.ready("starting")
    notifier.watchdog()
    notifier.stopping()
    assert received(listener) == ["READY=1\nSTATUS=starting", "WATCHDOG=1", "STOPPING=1"]


def test_a_status_is_sent_only_when_it_changes_and_on_one_line(listener):
    notifier = Notifier()
    notifier.ready("up")
    notifier.status("up")
    notifier.status("logger down:\n  timeout")
    notifier.status("logger down: timeout")
    assert received(listener) == ["READY=1\nSTATUS=up", "STATUS=logger down: timeout"]


def test_a_status_outside_latin_1_is_sent_in_utf_8(listener):
    Notifier().status("tunnel up: 127.0.0.1:2222 → :22 verified")
    assert received(listener) == ["STATUS=tunnel up: 127.0.0.1:2222 → :22 verified"]


def test_without_notify_socket_every_message_is_a_silent_no_op(monkeypatch):
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    notifier = Notifier()
    notifier.ready("x")
    notifier.status("y")
    notifier.watchdog()
    notifier.stopping()
    assert notifier.last_status == "y"


def test_a_notify_socket_nobody_reads_never_blocks_the_daemon(listener):
    notifier = Notifier()
    for _ in range(10000):  # far more than a datagram queue holds
        notifier.watchdog()
    assert received(listener)[0] == "WATCHDOG=1"


def test_the_watchdog_interval_is_half_of_watchdog_sec_for_this_process_only(monkeypatch):
    monkeypatch.setenv("WATCHDOG_USEC", "30000000")
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    assert Notifier().watchdog_interval_s() == 15.0
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid() + 1))
    assert Notifier().watchdog_interval_s() is None
    monkeypatch.delenv("WATCHDOG_USEC")
    assert Notifier().watchdog_interval_s() is None
