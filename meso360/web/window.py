"""The live window: the last history_hours of points in memory, with ids, and a Condition for SSE clients."""

import collections
import gzip
import json
import threading
import time

from meso360.web.points import Point, columnar_json

# Ids start at the server's start time in milliseconds since 2024 so that the ids of a restarted server are
# larger than the ones its predecessor sent (at 1 row/s): a browser resuming with an old Last-Event-ID gets
# a "reset" instead of a silent hole.
_ID_EPOCH = 1_704_067_200
HISTORY_MAX_LAG_ROWS = 30


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
        self.condition = threading.Condition()
        self.closed = False
        self._points = collections.deque()
        self.last_id = initial_id() if first_id is None else first_id
        self.newest_gps_ts = None
        self.newest = None
        self._body_cache = None

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
                added.append(point)
                if fix and (self.newest_gps_ts is None or ts > self.newest_gps_ts):
                    self.newest_gps_ts = ts
                if self.newest is None or ts >= self.newest.ts:
                    self.newest = point  # by data time: a backfilled row is not the newest
            self._trim()
            self.condition.notify_all()
        return added

    def _trim(self):
        points = self._points
        while len(points) > self.max_points:
            points.popleft()
        if self.newest_gps_ts is not None:
            cutoff = self.newest_gps_ts - self.history_seconds
            # Only from the left, so the ids in the window stay contiguous.
            while points and points[0].ts < cutoff and points[0].id != self.last_id:
                points.popleft()

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

    def history_body(self, max_lag_rows=HISTORY_MAX_LAG_ROWS):
        """Return (last_id, gzip_bytes) of GET /api/history (only the gzip body is kept: 5x smaller).

        The encoded body is reused until it lags the newest row by more than `max_lag_rows`: the client
        resumes the stream from the body's last_id, so the rows after it are replayed, not lost. This
        keeps a 7200-point body (about 25 ms to encode and gzip) off most requests.
        """
        cached = self._body_cache
        if cached is not None and self.last_id - cached[0] <= max_lag_rows:
            return cached
        last_id, points = self.snapshot()
        text = f'{{"vehicle":{json.dumps(self.vehicle)},"last_id":{last_id},"points":{columnar_json(points)}}}'
        cached = (last_id, gzip.compress(text.encode(), compresslevel=6, mtime=0))
        self._body_cache = cached
        return cached
