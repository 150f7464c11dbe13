"""The live window: the last history_hours of points in memory, with ids, and a Condition the live stream waits on
(livecast.py)."""

import collections
import json
import math
import threading
import time

from meso360.web.history import Block, block_views, history_gzip
from meso360.web.points import Point

# Ids start at the server's start time in milliseconds since 2024 so that the ids of a restarted server are
# larger than the ones its predecessor sent (at 1 row/s): a browser resuming with an old Last-Event-ID gets
# a "reset" instead of a silent hole.
_ID_EPOCH = 1_704_067_200


def initial_id(now=None):
    """Return the id before the first point of a server started at `now` (epoch seconds)."""
    return max(0, int(((time.time() if now is None else now) - _ID_EPOCH) * 1000))


class LiveWindow:
    """Points of the last `history_seconds` of data time, in arrival (file) order with contiguous ids.

    Writers call append(); readers call after(last_id) or history_body(). Trimming is by data (GPS)
    time, never by the host clock, and is bounded by a maximum count.
    """

    def __init__(self, vehicle, history_seconds, first_id=None):
        self.vehicle = vehicle
        self.history_seconds = history_seconds
        # 1 Hz data plus slack for bursts of rows without fix (timed by arrival).
        self.max_points = int(history_seconds * 1.5) + 600
        # Held as a plain RLock where nothing waits on the Condition: `with self._lock` runs no Python frames.
        self._lock = threading.RLock()
        self.condition = threading.Condition(self._lock)
        self.closed = False
        self._points = collections.deque()
        self._blocks = collections.deque([Block()])  # the same points, for history_body()
        self.last_id = initial_id() if first_id is None else first_id
        self.newest_gps_ts = None
        self.newest = None
        self.latest_frames = (None, None, b"")  # (id before the last append, its last id, their frames as bytes)
        self._body_cache = None
        self._runs = {}  # history.Run lists of the last body, by their blocks' serials (history_gzip)

    def append(self, rows):
        """Given [(ts, fix, values)] in file order, add them as Points, trim the window and wake the waiters."""
        if not rows:
            return []
        added = []
        with self.condition:
            for ts, fix, values in rows:
                self.last_id += 1
                point = Point(self.last_id, ts, fix, values)
                self._points.append(point)
                if self._blocks[-1].add(point):
                    self._blocks[-1].finish()
                    self._blocks.append(Block())
                added.append(point)
                if fix and (self.newest_gps_ts is None or ts > self.newest_gps_ts):
                    self.newest_gps_ts = ts
                if self.newest is None or ts >= self.newest.ts:
                    self.newest = point  # by data time: a backfilled row is not the newest
            self._trim()
            self.latest_frames = (added[0].id - 1, added[-1].id, "".join(p.frame for p in added).encode())
            self.condition.notify_all()
        return added

    def _trim(self):
        points = self._points
        while len(points) > self.max_points:
            self._drop_oldest()
        if self.newest_gps_ts is not None:
            cutoff = self.newest_gps_ts - self.history_seconds
            # Only from the left, so the ids in the window stay contiguous.
            while points and points[0].ts < cutoff and points[0].id != self.last_id:
                self._drop_oldest()

    def _drop_oldest(self):
        self._points.popleft()
        if self._blocks[0].trim_one():
            self._blocks.popleft()  # never the open last block: the newest point is never dropped

    def wake(self):
        """Wake every waiter without a new point (the live stream has an alarm event to send)."""
        with self.condition:
            self.condition.notify_all()

    def close(self):
        """Wake every waiter for good (server shutdown)."""
        with self.condition:
            self.closed = True
            self.condition.notify_all()

    def first_id(self):
        with self.condition:
            return self._points[0].id if self._points else self.last_id + 1

    def after(self, last_id):
        """Return (points with id > last_id, reset): reset is True when last_id is not from this window.

        With reset, every point in the window is returned (the client missed some; it should reload).
        Call with self.condition held or not; it takes the lock itself.
        """
        with self.condition:
            points = self._points
            if last_id is None:
                return [], False
            if not points:
                return [], last_id > self.last_id
            if last_id > self.last_id or last_id < points[0].id - 1:
                return list(points), True
            newer = []
            for point in reversed(points):
                if point.id <= last_id:
                    break
                newer.append(point)
            newer.reverse()
            return newer, False

    def __len__(self):
        return len(self._points)

    def snapshot(self):
        """Return (last_id, points in the window whose data time is within history_seconds of the newest)."""
        with self.condition:
            points = list(self._points)
            last_id = self.last_id
            newest = self.newest_gps_ts
        if newest is not None:
            cutoff = newest - self.history_seconds
            points = [p for p in points if p.ts >= cutoff]
        return last_id, points

    def history_body(self, qc_text="[]"):
        """Return (last_id, gzip_bytes) of GET /api/history: the points of snapshot() in columns, and the QC
        marks `qc_text` (a JSON list, qcmarks.LiveQcMarks.history_text).

        Always current: finished blocks of the window are compressed once, so a new body costs only
        the encoding of the first (trimmed) and the last (open) block. Kept until the next append.
        """
        cached = self._body_cache
        if cached is not None and cached[0] == self.last_id and cached[2] == qc_text:
            return cached[:2]
        with self.condition:
            last_id = self.last_id
            cutoff = -math.inf if self.newest_gps_ts is None else self.newest_gps_ts - self.history_seconds
            views = block_views(self._blocks, cutoff)
        head = f'{{"vehicle":{json.dumps(self.vehicle)},"last_id":{last_id},"qc":{qc_text},'
        body, self._runs = history_gzip(head, views, cutoff, self._runs)
        cached = (last_id, body, qc_text)
        self._body_cache = cached
        return cached[:2]
