"""The live stream (GET /api/stream): every new row to every viewer, from one thread.

One thread follows the live window. At each append it encodes nothing new (the window encodes each row's frame
once) and queues the same bytes on every viewer's connection through waitress's event loop (fanout.py): the QC
marks learned before the rows (event `qc`, no id), an alarm that started or ended (event `alarm`, no id), then
the rows (event `obs`, with their id). Before, each viewer held a worker thread that woke at every row: a
hundred viewers made a hundred thread switches a second, and the requests beside them (the panel's
/api/status every second) waited behind them.

The thread also lets viewers in, between two batches: a new one gets the answer's head, and, when it resumes
with Last-Event-ID (or ?last_id=), the rows and marks it missed up to the last batch sent; then every batch. An
id not from this window (older than it, or from a previous server) gets a `reset` event first, then the whole
window, so the client has no hole. A comment line every KEEPALIVE_S keeps proxies and browsers from dropping an
idle connection and lets the server notice a viewer that went away.
"""

import json
import logging
import threading
import time
import urllib.parse

from meso360.web import fanout
from meso360.web.responses import MAX_NUMBER_DIGITS, whole_number

log = logging.getLogger(__name__)

PATH = "/api/stream"
MAX_VIEWERS = 100  # beyond it the Bottle route answers 503
KEEPALIVE_S = 15.0
RETRY_MS = 3000
MAX_EVENT_ID = 10**MAX_NUMBER_DIGITS - 1
# A viewer holding more unsent bytes at a batch is dropped: above a whole window sent at once to a viewer that
# resumed (7 200 rows of about 330 bytes, and the rows without fix); a viewer that takes nothing at all is closed
# after server.SEND_STALL_S first.
MAX_UNSENT_BYTES = 8 * 1024 * 1024
WAIT_SLICE_S = 1.0  # the thread looks at the stop event at least this often
KEEPALIVE_FRAME = b": keep-alive\n\n"


def resume_id(header, query_value):
    """Given the Last-Event-ID header and the ?last_id= value (each None if absent), return the id to resume
    after, or None (from now on); raise ValueError if the one given is not a whole number."""
    if header is not None and header.strip():
        return whole_number(header, "the Last-Event-ID header", 0, MAX_EVENT_ID)
    if query_value is None or not query_value.strip():
        return None
    return whole_number(query_value, "last_id", 0, MAX_EVENT_ID)


def frames_after(window, sent, upto=None):
    """Given the id of the last row sent, return (the SSE bytes of the rows after it up to id `upto` (None: all),
    the id now sent); with a `reset` event first when `sent` is not from this window."""
    points, reset = window.after(sent)
    if upto is not None:
        points = [point for point in points if point.id <= upto]
    chunks = []
    if reset:
        chunks.append(f"event: reset\ndata: {json.dumps({'last_id': sent, 'first_id': window.first_id()})}\n\n")
        sent = window.last_id if upto is None else upto
    if points:
        chunks.extend(point.frame for point in points)
        sent = points[-1].id
    return "".join(chunks).encode(), sent


class LiveCast:
    """The viewers of the live stream and the thread that sends them the rows (a fanout.py fanout)."""

    path = PATH

    def __init__(self, services):
        self.services = services
        self.window = services.window
        self.qc = getattr(services.reader, "qc_marks", None)  # qcmarks.LiveQcMarks, or None (tests without one)
        self.trigger = None  # wakes the event loop: set by fanout.serve_fanout
        # Under _lock, never the window's lock: the event loop (attach, detach) must not wait for the reader.
        self._lock = threading.Lock()
        self._viewers = set()  # connections that had the head and every batch since
        self._joining = []  # (connection, id to resume after or None), let in by the thread
        self.closed = False
        self.thread = None

    @property
    def viewers(self):
        return len(self._viewers) + len(self._joining)

    def attach(self, channel, request):
        """From the event loop: take a GET of the stream; False (the Bottle route answers) when the resume id is
        not a number, every slot is taken or the stream is closed."""
        query = urllib.parse.parse_qs(request.query, keep_blank_values=True).get("last_id")
        try:
            resume = resume_id(request.headers.get("LAST_EVENT_ID"), query[-1] if query else None)
        except ValueError:
            return False
        with self._lock:
            if self.closed or self.viewers >= MAX_VIEWERS:
                return False
            self._joining.append((channel, resume))
            self._count()
        self._wake()  # the thread lets it in now, not at the next row
        return True

    def detach(self, channel):
        with self._lock:
            self._viewers.discard(channel)
            self._count()

    def _wake(self):
        """Wake the thread if the window's lock is free; else it sees the new viewer within WAIT_SLICE_S (the
        event loop never waits for that lock: a reader stuck holding it must not stop the server)."""
        if self.window.condition.acquire(blocking=False):
            try:
                self.window.condition.notify_all()
            finally:
                self.window.condition.release()

    def start(self, stop_event):
        self.thread = threading.Thread(target=self._run, args=(stop_event,), name="live-stream", daemon=True)
        self.thread.start()

    def _count(self):
        self.services.sse_clients = self.viewers  # /metrics, /api/status

    def _run(self, stop_event):
        try:
            self._follow(stop_event)
        except Exception:
            log.exception("the live stream failed")  # the daemon sees the thread end and exits: systemd restarts it
            raise
        finally:
            self._close()

    def _follow(self, stop_event):
        """Send each batch to every viewer and let new ones in, until the stop event or the window closes."""
        window, qc = self.window, self.qc
        sent = window.last_id
        qc_seq = qc.resume_seq(None) if qc else 0
        alarm_version = self._alarm()[0]
        keepalive_at = time.monotonic() + KEEPALIVE_S
        while not stop_event.is_set():
            self._wait(sent, qc_seq, alarm_version, keepalive_at)
            if window.closed or stop_event.is_set():
                break
            alarm = b""
            if self._alarm()[0] != alarm_version:
                alarm_version, alarm = self._alarm()
            after_id, latest_id, frames = window.latest_frames
            if after_id == sent:  # the rows of the last append: encoded once by the window
                rows, sent = frames, latest_id
            else:
                rows, sent = frames_after(window, sent)
            # the marks learned before these rows were appended go first (taken after the rows: none missed)
            qc_seq, marks = qc.frames_after(qc_seq) if qc else (0, b"")
            data = alarm + marks + rows
            if not data and time.monotonic() >= keepalive_at:
                data = KEEPALIVE_FRAME
            if data:
                keepalive_at = time.monotonic() + KEEPALIVE_S
                self._send(data)
            self._let_in(sent, qc_seq)

    def _alarm(self):
        alarms = self.services.alarms  # AlarmMonitor, set by the daemon; None in tests without one
        return alarms.event if alarms else (0, b"")

    def _wait(self, sent, qc_seq, alarm_version, keepalive_at):
        """Wait until a row is appended, a viewer asks in, marks were learned, an alarm changed, the window closed
        or the keep-alive is due (the window notifies its condition at each append, wake and close)."""
        window = self.window
        with window.condition:
            while not (
                window.closed
                or window.last_id != sent
                or self._joining
                or (self.qc and self.qc.seq != qc_seq)
                or self._alarm()[0] != alarm_version
            ):
                remaining = keepalive_at - time.monotonic()
                if remaining <= 0:
                    return
                window.condition.wait(min(remaining, WAIT_SLICE_S))

    def _send(self, data):
        with self._lock:
            viewers = list(self._viewers)
        for channel in fanout.send(viewers, data, MAX_UNSENT_BYTES, self.trigger):
            self.detach(channel)

    def _let_in(self, sent, qc_seq):
        """Give each viewer that asked in the head and what it missed up to row `sent` and marks batch `qc_seq`."""
        with self._lock:
            joining, self._joining = self._joining, []
        for channel, resume in joining:
            missed = b""
            if resume is not None:
                rows, _sent = frames_after(self.window, resume, upto=sent)
                marks = self.qc.frames_after(self.qc.resume_seq(resume), upto=qc_seq)[1] if self.qc else b""
                missed = marks + rows
            if fanout.begin(channel, RETRY_MS, missed):
                with self._lock:
                    self._viewers.add(channel)
        with self._lock:
            self._count()
        if joining and self.trigger is not None:
            self.trigger()

    def _close(self):
        """Close every viewer (the server is stopping) and let no new one in."""
        with self._lock:
            self.closed = True
            channels = list(self._viewers) + [channel for channel, _resume in self._joining]
            self._viewers.clear()
            self._joining.clear()
            self._count()
        fanout.close(channels, self.trigger)
