"""Live viewers without a thread each: the SSE stream of the fleet page, served from waitress's event loop.

waitress runs each answer in a worker thread, and an SSE answer never ends: 1 000 viewers would hold 1 000
threads. Here GET /api/fleet/stream never reaches a worker: the server (StreamServer.add_task, in the event
loop) writes the answer's head and the current snapshot into the connection's output buffer and registers the
connection with the Broadcaster. On each new snapshot the Broadcaster appends the one encoded frame to every
registered connection's buffer (a reference, not a copy) from its caller's thread and pulls waitress's trigger
once; the event loop then sends to every connection that is writable. The request stays in the connection's
queue, so waitress starts no task for it and its idle timeout does not apply; a viewer that takes nothing for
SEND_STALL_S is closed by the server's maintenance (web/server.py), one that falls MAX_UNSENT_BYTES behind at
the next frame. Any other request goes to the Bottle app in a worker thread as usual.
"""

import logging
import threading
import time

from meso360.web.app import SECURITY_HEADERS
from meso360.web.server import _Channel, _Server

log = logging.getLogger(__name__)

STREAM_PATH = "/api/fleet/stream"
MAX_VIEWERS = 2000  # beyond it the stream answers 503 (the Bottle route)
MAX_UNSENT_BYTES = 256 * 1024  # about a hundred snapshots a viewer has not taken: it is dropped
KEEPALIVE_S = 15.0
RETRY_MS = 3000
HEAD = (
    "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\nCache-Control: no-cache\r\n"
    "X-Accel-Buffering: no\r\nConnection: close\r\n"
    + "".join(f"{name}: {value}\r\n" for name, value in SECURITY_HEADERS)
    + f"\r\nretry: {RETRY_MS}\n\n"
).encode()


def sse_frame(event_id, data):
    """Return the bytes of one SSE event carrying `data` (JSON bytes on one line) with its id."""
    return b"id: %d\ndata: %s\n\n" % (event_id, data)


class Broadcaster:
    """The registered stream connections, and the newest frame every new one gets first."""

    def __init__(self):
        self._lock = threading.Lock()
        self._channels = set()
        self._frame = None  # the newest snapshot's frame
        self._trigger = None  # pulls the event loop out of poll(): set by StreamServer
        self.sent_at = time.monotonic()
        self.closed = False

    @property
    def viewers(self):
        return len(self._channels)

    def attach(self, channel):
        """Register `channel` and queue the answer's head and the newest frame; return False when full or closed."""
        with self._lock:
            if self.closed or len(self._channels) >= MAX_VIEWERS:
                return False
            self._channels.add(channel)
            frame = self._frame
        _append(channel, HEAD + (frame or b""))
        return True

    def detach(self, channel):
        with self._lock:
            self._channels.discard(channel)

    def publish(self, frame):
        """Send `frame` (sse_frame bytes) to every viewer, and to each new one from now on."""
        with self._lock:
            self._frame = frame
        self._send(frame)

    def keep_alive(self):
        """Send a comment line when nothing was sent for KEEPALIVE_S: proxies keep the connection, and a viewer
        that went away is noticed (its send fails)."""
        if time.monotonic() - self.sent_at >= KEEPALIVE_S:
            self._send(b": keep-alive\n\n")

    def _send(self, data):
        with self._lock:
            channels = list(self._channels)
        self.sent_at = time.monotonic()
        dropped = [channel for channel in channels if not _append(channel, data)]
        for channel in dropped:
            channel.will_close = True  # closed by the event loop, which owns the socket
            self.detach(channel)
        if channels and self._trigger is not None:
            self._trigger()

    def close(self):
        with self._lock:
            self.closed = True
            channels, self._channels = list(self._channels), set()
        for channel in channels:
            channel.will_close = True
        if self._trigger is not None:
            self._trigger()


def _append(channel, data):
    """Queue `data` on the waitress connection without waiting; return False if it is gone or too far behind."""
    with channel.outbuf_lock:
        if not channel.connected or channel.total_outbufs_len > MAX_UNSENT_BYTES:
            return False
        channel.outbufs[-1].append(data)
        channel.current_outbuf_count += len(data)
        channel.total_outbufs_len += len(data)
    return True


class StreamChannel(_Channel):
    """A connection that leaves the broadcaster when it closes."""

    def handle_close(self):
        self.server.broadcaster.detach(self)
        super().handle_close()


class StreamServer(_Server):
    """waitress's server of web/server.py that answers the stream itself, in the event loop (see the module)."""

    channel_class = StreamChannel
    broadcaster = None  # set by serve_streams

    def add_task(self, channel):
        request = channel.requests[0]
        is_stream = request.error is None and request.command == "GET" and request.path == STREAM_PATH
        if is_stream and self.broadcaster.attach(channel):
            self.pull_trigger()  # the head is queued: let the loop send it
            return
        super().add_task(channel)  # the Bottle app answers (the stream route says 503: full)


def serve_streams(server, broadcaster):
    """Make the StreamServer `server` answer the stream through `broadcaster`."""
    server.broadcaster = broadcaster
    broadcaster._trigger = server.pull_trigger
