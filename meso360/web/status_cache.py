"""The /api/status body, built off the request path while somebody asks for it.

The panel asks every second, and so may each of a crew's browsers. Building the document reads the tunnel and
logger state files, the QC sidecar and the machine's counters, and encodes 3 kB of JSON: about 0.7 ms on this
daemon's hardware when spaced requests find cold caches, the better part of a request's time. So a thread
rebuilds it every REFRESH_S while requests come, and a request only picks the body made for it (logged in or
not). The answer is at most REFRESH_S (plus one build) old; the first request after a pause of more than
STALE_S builds its own, so no answer is older than that, and so does the first after invalidate() (a control
action: the panel then shows its result at once).
"""

import json
import logging
import math
import threading
import time

from meso360.web.repeating import Repeating

log = logging.getLogger(__name__)

REFRESH_S = 0.5  # how often the body is rebuilt while requests come
STALE_S = 1.0  # a body older than this is rebuilt by the request itself (the first after a pause)
IDLE_S = 10.0  # the thread stops rebuilding this long after the last request


class StatusCache:
    """The /api/status bodies (JSON bytes), one for a logged-in session and one for anybody else."""

    def __init__(self, build, stop_event, clock=time.monotonic):
        """`build(logged_in)` returns the /api/status dict; the thread ends when `stop_event` is set."""
        self._build = build
        self._stop_event = stop_event
        self._clock = clock
        self._lock = threading.Lock()  # one build at a time
        self._bodies = None  # (anonymous, logged in)
        self._built_at = -math.inf
        self._asked_at = -math.inf
        self._thread = None

    def body(self, logged_in):
        """Return the JSON body of /api/status for a client logged in or not; errors of the build propagate."""
        now = self._clock()
        self._asked_at = now
        if now - self._built_at > STALE_S:
            self.refresh()
        if self._thread is None:
            self._start()
        return self._bodies[bool(logged_in)]

    def refresh(self):
        """Build both bodies now."""
        with self._lock:
            document = self._build(False)
            anonymous = json.dumps(document, separators=(",", ":")).encode()
            document["control"]["logged_in"] = True
            logged_in = json.dumps(document, separators=(",", ":")).encode()
            self._bodies = (anonymous, logged_in)
            self._built_at = self._clock()

    def invalidate(self):
        """Make the next request build its body anew (something it shows has just been changed)."""
        self._built_at = -math.inf

    def _start(self):
        with self._lock:
            if self._thread is None:
                repeating = Repeating(self._refresh_if_asked, REFRESH_S, log, "building the /api/status body")
                self._thread = repeating.start(self._stop_event, "status")

    def _refresh_if_asked(self):
        if self._clock() - self._asked_at <= IDLE_S:  # nobody watching: no work (the next request builds its own)
            self.refresh()
