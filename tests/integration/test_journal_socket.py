"""The web daemon's journal view through the reader socket (meso360-journal.socket + meso360.journalread).

Here a listener stands in for systemd's Accept=yes socket: it starts `python3 -m meso360.journalread` per
connection with the connection as stdin and stdout, as meso360-journal@.service does. This machine has no
journald, so the reader answers with why there is nothing to show; the e2e reads a real journal with it.
"""

import itertools
import socket
import subprocess
import sys
import threading
import time

from meso360 import journalread
from meso360.web import journal


class AcceptingListener:
    """A Unix socket that runs the journal reader for each connection; remembers their processes."""

    def __init__(self, path):
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(str(path))
        self.server.listen()
        self.processes = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                connection, _ = self.server.accept()
            except OSError:
                return
            with connection:
                self.processes.append(
                    subprocess.Popen([sys.executable, "-m", "meso360.journalread"], stdin=connection, stdout=connection)
                )

    def close(self):
        self.server.close()
        for process in self.processes:
            if process.poll() is None:
                process.kill()
            process.wait()


def test_the_web_reads_the_journal_through_the_socket_and_the_reader_ends_with_the_connection(tmp_path):
    listener = AcceptingListener(tmp_path / "journal.sock")
    stop = threading.Event()
    try:
        events = journal.log_events(5, "", stop, keepalive_s=1.0, socket_path=str(tmp_path / "journal.sock"))
        assert next(events) == "retry: 3000\n\n"
        # A reader process slow to start (a loaded machine) first gives ": no journal entries yet" and keep-alives.
        info = next(frame for frame in itertools.islice(events, 60) if not frame.startswith(":"))
        assert "event: log" in info and "journald is not running on this machine" in info
        assert len(listener.processes) == 1  # read through the socket, by the reader process
        stop.set()
        events.close()
        deadline = time.monotonic() + 15
        while listener.processes[0].poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert listener.processes[0].returncode == 0  # the reader quits once the web side closed
    finally:
        listener.close()


def test_without_the_socket_the_web_reads_in_process(tmp_path):
    stop = threading.Event()
    events = journal.log_events(5, "", stop, keepalive_s=1.0, socket_path=str(tmp_path / "absent.sock"))
    assert next(events) == "retry: 3000\n\n"
    assert "journald is not running on this machine" in next(events)
    stop.set()
    events.close()


def test_a_bad_request_line_gets_the_defaults_never_an_error():
    assert journalread.parse_request('{"lines": 20, "cursor": "s=1"}') == (20, "s=1")
    assert journalread.parse_request('{"lines": 999999}') == (journalread.MAX_LINES, "")
    for line in ("", "not json", "[1, 2]", '{"lines": "many"}', "null"):
        assert journalread.parse_request(line) == (200, "")


def test_the_reader_sends_only_meso360_units():
    assert journalread.UNITS and all(unit.startswith("meso360") for unit in journalread.UNITS)
    assert journal.UNITS == journalread.UNITS
