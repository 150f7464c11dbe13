"""The web daemon's watchdog: WATCHDOG=1 goes to systemd only while the server answers, the data reader
reads and the daemon loop runs. The daemon runs in this process (daemon.run, the real server on
127.0.0.1 port 0) so the test can freeze one of its parts; systemd's notify socket is a real unix
datagram socket the test listens on.
"""

import datetime as dt
import socket
import threading
import time

import pytest
import requests
from test_web_api import DAY, make_rows, write_day

from meso360 import config as config_module
from meso360.notify import Notifier
from meso360.web import daemon

LOOP_INTERVAL_S = 0.5  # the loop's pace for this test (systemd's WatchdogSec=30 gives 5 s)


class NotifyListener:
    """systemd's side of NOTIFY_SOCKET: collects the datagrams a daemon sends."""

    def __init__(self, path):
        self.path = str(path)
        self.socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.socket.bind(self.path)
        self.socket.settimeout(0.2)

    def receive_for(self, seconds):
        """Return every message received within `seconds`."""
        messages, deadline = [], time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                messages.append(self.socket.recv(4096).decode())
            except TimeoutError:
                continue
        return messages

    def wait_for(self, text, timeout=30.0):
        """Return the messages up to the first one containing `text`; fail after `timeout` s."""
        messages, deadline = [], time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                messages.append(self.socket.recv(4096).decode())
            except TimeoutError:
                continue
            if text in messages[-1]:
                return messages
        raise AssertionError(f"no {text!r} within {timeout} s: {messages}")

    def close(self):
        self.socket.close()


class BlockingNotifier(Notifier):
    """The real notifier, whose status() can be made to hang: a stand-in for a daemon loop stuck in some call
    (nothing in the loop hangs on its own, so the fault is injected here)."""

    def __init__(self):
        super().__init__()
        self.hang = threading.Event()
        self.released = threading.Event()

    def status(self, text):
        if self.hang.is_set():
            self.released.wait(60)
        super().status(text)


@pytest.fixture
def running(tmp_path, monkeypatch, request):
    """Run the daemon in a thread; with the parameter "stuck from the start", its loop hangs in its first pass."""
    monkeypatch.setattr(daemon, "LOOP_INTERVAL_S", LOOP_INTERVAL_S)
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    write_day(data_dir, DAY, make_rows(DAY, 60))
    config = config_module.parse(
        f"[meso360]\ndata_dir = {data_dir}\nsupport_dir = {tmp_path}/support\nstate_dir = {tmp_path}/state\n"
        "[web]\nlisten = 127.0.0.1:0\n"
    )
    listener = NotifyListener(tmp_path / "notify.sock")
    monkeypatch.setenv("NOTIFY_SOCKET", listener.path)
    notifier = BlockingNotifier()
    if getattr(request, "param", None) == "stuck from the start":
        notifier.hang.set()
    stop = threading.Event()
    services = daemon.build_services(config, stop)
    port_file = tmp_path / "port"
    thread = threading.Thread(target=daemon.run, args=(config, stop, notifier, str(port_file), services), daemon=True)
    thread.start()
    listener.wait_for("READY=1")
    url = f"http://127.0.0.1:{int(port_file.read_text())}"
    yield services, listener, notifier, url, data_dir
    notifier.released.set()
    stop.set()
    thread.join(timeout=30)
    listener.close()
    assert not thread.is_alive()


def test_a_frozen_data_reader_stops_the_watchdog_pings_and_healthz_says_why(running):
    services, listener, _notifier, url, data_dir = running
    assert sum("WATCHDOG=1" in message for message in listener.receive_for(2.0)) >= 2
    with services.window.condition:  # the reader's next append waits for this lock: it is stuck
        write_day(data_dir, DAY, make_rows(DAY + dt.timedelta(seconds=60), 1))
        listener.wait_for("STATUS=unhealthy", timeout=30)
        assert not any("WATCHDOG=1" in message for message in listener.receive_for(4 * LOOP_INTERVAL_S))
        answer = requests.get(url + "/healthz", timeout=10)
        assert answer.status_code == 503 and "data reader" in answer.text
    listener.wait_for("WATCHDOG=1", timeout=30)  # unstuck: the pings come back
    assert requests.get(url + "/healthz", timeout=10).status_code == 200


@pytest.mark.parametrize("running", ["stuck later", "stuck from the start"], indirect=True)
def test_a_stuck_daemon_loop_stops_the_pings_and_healthz_fails_within_three_loop_passes(running):
    _services, listener, notifier, url, _data_dir = running
    if not notifier.hang.is_set():
        assert sum("WATCHDOG=1" in message for message in listener.receive_for(2.0)) >= 2
        notifier.hang.set()
    stuck_since = time.monotonic()
    listener.receive_for(2 * LOOP_INTERVAL_S)  # a ping may be on its way as the loop gets stuck
    assert not any("WATCHDOG=1" in message for message in listener.receive_for(4 * LOOP_INTERVAL_S))
    while requests.get(url + "/healthz", timeout=10).status_code == 200:
        assert time.monotonic() - stuck_since < 10 * LOOP_INTERVAL_S, "/healthz still ok with the loop stuck"
        time.sleep(0.1)  # polling /healthz with the deadline above
    assert "daemon loop" in requests.get(url + "/healthz", timeout=10).text
    notifier.hang.clear()
    notifier.released.set()
    listener.wait_for("WATCHDOG=1", timeout=30)
