"""Live viewers without a thread each: the SSE stream of the fleet page, served from waitress's event loop.

GET /api/fleet/stream never reaches a worker thread (web/fanout.py): the Broadcaster queues the answer's head and
the current snapshot on the connection, and on each new snapshot appends the one encoded frame to every
registered connection (a reference, not a copy) from its caller's thread and pulls waitress's trigger once. A
viewer that falls MAX_UNSENT_BYTES behind is dropped at the next frame. Any other request goes to the Bottle
app in a worker thread as usual.
"""

import logging
import threading
import time

from meso360.web import fanout

log = logging.getLogger(__name__)

STREAM_PATH = "/api/fleet/stream"
MAX_VIEWERS = 2000  # beyond it the stream answers 503 (the Bottle route)
MAX_UNSENT_BYTES = 256 * 1024  # about a hundred snapshots a viewer has not taken: it is dropped
KEEPALIVE_S = 15.0
RETRY_MS = 3000


def sse_frame(event_id, data):
    """Return the bytes of one SSE event carrying `data` (JSON bytes on one line) with its id."""
    return b"id: %d\ndata: %s\n\n" % (event_id, data)


class Broadcaster:
    """The registered stream connections, and the newest frame every new one gets first (a fanout.py fanout)."""

    path = STREAM_PATH

    def __init__(self):
        self._lock = threading.Lock()
        self._channels = set()
        self._frame = None  # the newest snapshot's frame
        self.trigger = None  # pulls the event loop out of poll(): set by fanout.serve_fanout
        self.sent_at = time.monotonic()
        self.closed = False

    @property
    def viewers(self):
        return len(self._channels)

    def attach(self, channel, _request=None):
        """Register `channel` and queue the answer's head and the newest frame; return False when full or closed."""
        with self._lock:
            if self.closed or len(self._channels) >= MAX_VIEWERS:
                return False
            self._channels.add(channel)
            frame = self._frame
        fanout.begin(channel, RETRY_MS, frame or b"")
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
        for channel in fanout.send(channels, data, MAX_UNSENT_BYTES, self.trigger):
            self.detach(channel)

    def close(self):
        with self._lock:
            self.closed = True
            channels, self._channels = list(self._channels), set()
        fanout.close(channels, self.trigger)
