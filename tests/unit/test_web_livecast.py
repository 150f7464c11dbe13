"""The live stream written by one thread to every viewer (web/livecast.py, web/fanout.py): a real waitress server
on loopback, real sockets, a LiveWindow filled by the test."""

import socket
import threading
import time
import types

import bottle
import pytest
import requests
from test_web_qcmarks import SPIKE, live, real_rows, seconds_of, with_faults, write_day

from meso360.web import livecast, streams
from meso360.web.fanout import FanoutServer, serve_fanout
from meso360.web.livecast import LiveCast
from meso360.web.server import create_server
from meso360.web.window import LiveWindow

TIMEOUT_S = 10


def _values():
    return [1.0] * 10


# Straight to the loopback server, whatever proxy the environment names (the package build sets http_proxy to a
# port that refuses, so that no test reaches the network).
LOOPBACK = requests.Session()
LOOPBACK.trust_env = False


class Viewer:
    """One raw connection to the stream; what it receives is read in a thread into .raw."""

    def __init__(self, port, headers="", path=livecast.PATH, version="1.1"):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT_S)
        self.sock.sendall(f"GET {path} HTTP/{version}\r\nHost: 127.0.0.1\r\n{headers}\r\n".encode())
        self.raw = b""
        self.ended = False
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        try:
            while data := self.sock.recv(65536):
                self.raw += data
        except OSError:
            pass
        self.ended = True

    @property
    def text(self):
        return self.raw.decode(errors="replace")

    def wait_for(self, condition, message):
        deadline = time.monotonic() + TIMEOUT_S
        while not condition(self):
            assert time.monotonic() < deadline, f"timed out: {message}; got {len(self.raw)} B: ...{self.raw[-300:]!r}"
            time.sleep(0.02)

    @property
    def body(self):
        """The body received so far: the whole chunks of a chunked answer, joined."""
        head, _sep, rest = self.raw.partition(b"\r\n\r\n")
        if b"Transfer-Encoding: chunked\r\n" not in head + b"\r\n":
            return rest.decode()
        chunks = []
        while True:
            size, sep, after = rest.partition(b"\r\n")
            if not sep or int(size, 16) == 0 or len(after) < int(size, 16) + 2:
                return b"".join(chunks).decode()
            assert after[int(size, 16) : int(size, 16) + 2] == b"\r\n", f"a chunk not ended by CRLF: {rest!r}"
            chunks.append(after[: int(size, 16)])
            rest = after[int(size, 16) + 2 :]

    def ids(self):
        return [int(line[4:]) for line in self.body.splitlines() if line.startswith("id: ")]

    def close(self):
        self.sock.shutdown(socket.SHUT_RDWR)  # ends the reader's recv (a close alone would leave it waiting)
        self.thread.join(TIMEOUT_S)
        self.sock.close()


def wait_for_viewers(cast, count, message):
    """Wait until the LiveCast counts `count` viewers (polling with a deadline)."""
    deadline = time.monotonic() + TIMEOUT_S
    while cast.viewers != count:
        assert time.monotonic() < deadline, f"timed out: {message} ({cast.viewers} viewers)"
        time.sleep(0.02)


@pytest.fixture
def serve():
    """Factory: serve(window, qc_marks=None) starts the server and its LiveCast; returns (port, LiveCast)."""
    running = []

    def start(window, qc_marks=None):
        services = types.SimpleNamespace(
            window=window, reader=types.SimpleNamespace(qc_marks=qc_marks), alarms=None, sse_clients=0
        )
        app = bottle.Bottle()
        streams.add_routes(app, services)  # the route that answers what the server does not take
        server = create_server(app, "127.0.0.1", 0, server_class=FanoutServer)
        cast = LiveCast(services)
        serve_fanout(server, cast)
        stop = threading.Event()
        cast.start(stop)
        threading.Thread(target=server.run, daemon=True).start()
        running.append((server, stop, window, cast))
        return int(server.effective_port), cast

    yield start
    for server, stop, window, cast in running:
        stop.set()
        window.close()
        cast.thread.join(TIMEOUT_S)  # its last trigger before the server closes
        server.task_dispatcher.shutdown(timeout=5)
        server.close()


def test_a_new_viewer_gets_the_head_then_every_row_appended_after_it_once_and_in_order(serve):
    window = LiveWindow("v", 3600, first_id=10)
    window.append([(1_700_000_000, True, _values())])
    port, cast = serve(window)
    viewers = [Viewer(port) for _ in range(20)]
    for viewer in viewers:
        viewer.wait_for(lambda v: "retry: 3000\n\n" in v.text, "the head")
    assert cast.viewers == 20
    head = viewers[0].text.partition("\r\n\r\n")[0]
    assert head.startswith("HTTP/1.1 200 OK\r\n") and "Content-Type: text/event-stream; charset=utf-8" in head
    assert "X-Content-Type-Options: nosniff" in head and "Content-Security-Policy:" in head
    assert "Transfer-Encoding: chunked\r\n" in head + "\r\n"  # each batch a chunk: clients read it as it comes
    for second in range(1, 31):  # in bursts: some appends fall between two of the thread's batches
        window.append([(1_700_000_000 + second, True, _values())])
        if second % 3:
            time.sleep(0.05)
    for viewer in viewers:
        viewer.wait_for(lambda v: 41 in v.ids(), "the last row")
        assert viewer.ids() == list(range(12, 42))  # the row before the viewer came in is not sent
        assert viewer.body.count("event: obs") == 30
        viewer.close()


def test_a_client_reading_what_has_arrived_gets_each_row_as_it_comes_and_an_http_1_0_one_a_plain_body(serve):
    window = LiveWindow("v", 3600, first_id=1)
    port, _cast = serve(window)
    old = Viewer(port, version="1.0")
    with LOOPBACK.get(f"http://127.0.0.1:{port}{livecast.PATH}", stream=True, timeout=TIMEOUT_S) as response:
        pieces = response.iter_content(chunk_size=None)  # returns what has arrived, if the answer is chunked
        assert next(pieces) == b"retry: 3000\n\n"
        for second in range(3):
            window.append([(1_700_000_000 + second, True, _values())])
            assert next(pieces).startswith(b"id: %d\nevent: obs\n" % (second + 2))
    old.wait_for(lambda v: 4 in v.ids(), "the rows")
    assert "Transfer-Encoding" not in old.text.partition("\r\n\r\n")[0]
    assert old.body.startswith("retry: 3000\n\nid: 2\nevent: obs\n") and old.ids() == [2, 3, 4]
    old.close()


def test_a_viewer_that_resumes_gets_what_it_missed_and_an_id_not_of_this_window_a_reset_first(serve):
    window = LiveWindow("v", 3600, first_id=100)
    window.append([(1_700_000_000 + second, True, _values()) for second in range(10)])  # ids 101..110
    port, _cast = serve(window)
    resumed = Viewer(port, "Last-Event-ID: 105\r\n")
    by_query = Viewer(port, path=livecast.PATH + "?last_id=108")
    stranger = Viewer(port, "Last-Event-ID: 99999\r\n")  # from a previous server
    for viewer in (resumed, by_query, stranger):
        viewer.wait_for(lambda v: 110 in v.ids(), "the rows it missed")
    window.append([(1_700_000_010, True, _values())])
    for viewer in (resumed, by_query, stranger):
        viewer.wait_for(lambda v: 111 in v.ids(), "the new row")
    assert resumed.ids() == list(range(106, 112)) and "event: reset" not in resumed.body
    assert by_query.ids() == [109, 110, 111]
    assert stranger.body.index("event: reset\ndata: ") < stranger.body.index("id: 101\n")
    assert '"last_id": 99999, "first_id": 101' in stranger.body
    assert stranger.ids() == list(range(101, 112))


def test_a_stream_sends_the_marks_before_the_rows_appended_after_them_and_again_on_resume(tmp_path, serve):
    rows = with_faults(real_rows())
    path = write_day(tmp_path, rows)
    window, marks = live(rows[SPIKE - 50 : SPIKE + 1])
    learned_after = window.last_id
    marks.poll([path])
    window.append([(seconds_of(row), True, [2.0] * 10) for row in rows[SPIKE + 1 : SPIKE + 3]])
    port, _cast = serve(window, marks)
    for resume in (learned_after, learned_after - 10):
        viewer = Viewer(port, f"Last-Event-ID: {resume}\r\n")
        viewer.wait_for(lambda v: learned_after + 2 in v.ids(), "the rows after the marks")
        assert viewer.body.index("event: qc") < viewer.body.index(f"id: {learned_after + 1}\n")
        viewer.close()
    viewer = Viewer(port, f"Last-Event-ID: {learned_after + 1}\r\n")  # resumed after the first row after the marks
    viewer.wait_for(lambda v: learned_after + 2 in v.ids(), "the last row")
    assert "event: qc" not in viewer.body and viewer.body.startswith(f"retry: 3000\n\nid: {learned_after + 2}\n")


def test_a_viewer_that_left_is_counted_out_and_one_that_takes_nothing_is_dropped(serve, monkeypatch):
    monkeypatch.setattr(livecast, "MAX_UNSENT_BYTES", 64 * 1024)
    window = LiveWindow("v", 3600, first_id=1)
    port, cast = serve(window)
    sleeping = socket.socket()
    sleeping.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connecting: a small window
    sleeping.connect(("127.0.0.1", port))
    sleeping.sendall(f"GET {livecast.PATH} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    leaving, reading = Viewer(port), Viewer(port)
    wait_for_viewers(cast, 3, "three viewers")
    leaving.close()
    deadline = time.monotonic() + TIMEOUT_S
    second = 0
    while cast.viewers != 2:  # noticed when a row cannot be sent to it (the event loop reads no more from it)
        assert time.monotonic() < deadline, "the viewer that left counted out"
        window.append([(1_700_000_000 + second, True, _values())])
        second += 1
        time.sleep(0.1)
    for start in range(second, second + 20_000, 100):  # about 6 MB the sleeping viewer never reads, beyond what
        window.append([(1_700_000_000 + n, True, [1e6] * 10) for n in range(start, start + 100)])  # sockets hold
        # at the pace of the viewer that reads: a burst it has not taken yet is not "too far behind" (under load)
        last = b"id: %d\n" % window.last_id
        reading.wait_for(lambda v, last=last: last in v.raw[-4096:], "the burst to the viewer that reads")
    reading.wait_for(lambda v: window.last_id in v.ids(), "every row to the viewer that reads")
    assert reading.ids() == list(range(2, window.last_id + 1))
    wait_for_viewers(cast, 1, "the viewer that takes nothing dropped")
    sleeping.close()


def test_when_every_slot_is_taken_or_the_id_is_bad_the_route_answers_with_the_reason(serve, monkeypatch):
    monkeypatch.setattr(livecast, "MAX_VIEWERS", 2)
    window = LiveWindow("v", 3600, first_id=1)
    port, cast = serve(window)
    first, second = Viewer(port), Viewer(port)
    for viewer in (first, second):
        viewer.wait_for(lambda v: "retry:" in v.text, "the head")
    third = Viewer(port)
    third.wait_for(lambda v: v.text.endswith("}"), "the answer to the third")
    assert third.text.startswith("HTTP/1.1 503 ") and "too many live clients (limit 2)" in third.text
    bad = Viewer(port, "Last-Event-ID: 12x\r\n")
    bad.wait_for(lambda v: "\r\n\r\n" in v.text and "}" in v.text, "the answer to a bad id")
    assert bad.text.startswith("HTTP/1.1 400 ") and "Last-Event-ID header must be a whole number" in bad.text
    assert cast.viewers == 2


def test_an_idle_stream_sends_keep_alives_and_closing_the_window_ends_every_stream(serve, monkeypatch):
    monkeypatch.setattr(livecast, "KEEPALIVE_S", 0.3)
    window = LiveWindow("v", 3600, first_id=1)
    port, cast = serve(window)
    viewers = [Viewer(port) for _ in range(3)]
    for viewer in viewers:
        viewer.wait_for(lambda v: v.body.count(": keep-alive\n\n") >= 2, "two keep-alives")
    window.close()
    for viewer in viewers:
        viewer.wait_for(lambda v: v.ended, "the end of the stream")
    cast.thread.join(TIMEOUT_S)
    assert not cast.thread.is_alive() and cast.viewers == 0


def test_with_the_window_locked_by_a_stuck_reader_the_server_still_answers_and_viewers_come_and_go(serve):
    window = LiveWindow("v", 3600, first_id=1)
    port, cast = serve(window)
    with window.condition:  # the reader's append would wait for this lock: it is stuck
        viewers = [Viewer(port) for _ in range(3)]
        for viewer in viewers:
            viewer.close()
        for _ in range(3):  # each connection closed by the server after its answer, in the event loop
            answer = LOOPBACK.head(
                f"http://127.0.0.1:{port}{livecast.PATH}", headers={"Connection": "close"}, timeout=TIMEOUT_S
            )
            assert answer.status_code == 200 and answer.headers["Content-Type"].startswith("text/event-stream")
    reading = Viewer(port)
    reading.wait_for(lambda v: "retry: 3000" in v.body, "the head once the lock is free")
    window.append([(1_700_000_000, True, _values())])
    reading.wait_for(lambda v: 2 in v.ids(), "the row")
    wait_for_viewers(cast, 1, "the viewers that left counted out")
    reading.close()
