"""The data reader thread: tails the two newest daily files from saved offsets into the live window."""

import collections
import gc
import logging
import os
import threading
import time
from pathlib import Path

from meso360.datafile import RowReader, daily_files, read_complete_lines
from meso360.web.dirwatch import DirectoryWatch
from meso360.web.points import series_values
from meso360.web.qcmarks import LiveQcMarks
from meso360.web.tally import DayTally

log = logging.getLogger(__name__)

POLL_INTERVAL_S = 0.05  # without inotify; the append -> SSE event latency budget is 150 ms
WATCH_TIMEOUT_S = 1.0  # with inotify: a pass at least this often (heartbeat, rescan, stop_event)
RESCAN_INTERVAL_S = 1.0  # how often the directory is listed for a newer daily file
READ_CHUNK_BYTES = 64 * 1024  # reused below glibc's mmap threshold; 1 MiB buffers left the heap fragmented (+2 MB RSS)
CATCH_UP_BATCH_ROWS = 256
BACKFILL_DELAY_S = 5  # a row arriving later than this after its GPS time counts as backfilled


class DataReader:
    """Follow data_dir: the two newest YYYYMMDD.txt files (by name, i.e. by the rows' GPS date).

    Every complete line is read once, from the offset where the last read stopped; a partly written
    last line waits for its newline. A newer file replaces the oldest of the two, so late rows
    written to yesterday's file after midnight (backfill) are still read.
    """

    def __init__(self, data_dir, window, clock=time.time):
        self.data_dir = Path(data_dir)
        self.window = window
        self.clock = clock
        self.offsets = {}  # path -> byte offset of the next unread line, for the tracked files
        self.tally = None  # DayTally of the newest file
        self.qc_marks = LiveQcMarks(window)  # the flagged points of the window, from the files' QC sidecars
        self.rows_read = 0
        self.backfilled_rows = 0
        self.heartbeat = time.monotonic()
        self.ready = threading.Event()
        self._rows = RowReader()
        self._last_scan = 0.0
        self._missing_logged = False
        self._thread = None

    def start(self, stop_event):
        """Read the existing rows, then follow the files in a daemon thread until `stop_event` is set."""
        self._thread = threading.Thread(target=self._run, args=(stop_event,), name="data-reader", daemon=True)
        self._thread.start()

    def alive(self, max_age_s=5.0):
        """Return True when the reader thread runs and finished a pass within `max_age_s`."""
        return (
            self._thread is not None
            and self._thread.is_alive()
            and self.ready.is_set()
            and time.monotonic() - self.heartbeat < max_age_s
        )

    def _run(self, stop_event):
        try:
            self._catch_up()
            self.ready.set()
            # Woken by inotify when a file is written (an idle 20 Hz poll cost 0.3 % of a core), else polling.
            watch = DirectoryWatch.open(self.data_dir)
            while not stop_event.is_set():
                if watch is None:
                    stop_event.wait(POLL_INTERVAL_S)
                else:
                    watch.wait(WATCH_TIMEOUT_S)
                self.poll()
        except Exception:
            log.exception("data reader crashed; /healthz now fails and the watchdog restarts the daemon")
            raise

    def _catch_up(self):
        """Read the two newest files whole, keeping only the rows inside the history window."""
        self._rescan(force=True)
        kept = collections.deque()
        newest = None
        for path in sorted(self.offsets):
            for ts, fix, row in self._read_new_rows(path, live=False):
                # Only the line's text is kept until the window is known: a list of 17 cells per row
                # for two days of rows would double the daemon's memory for good.
                kept.append((ts, fix, ",".join(row)))
                if len(kept) > self.window.max_points:
                    kept.popleft()  # bounded while reading too: a burst of rows in a few seconds stays small
                if fix and (newest is None or ts > newest):
                    newest = ts
                    cutoff = newest - self.window.history_seconds
                    while kept and kept[0][0] < cutoff:
                        kept.popleft()
        while kept:
            # In small batches, each line let go as its point is made: the points reuse the lines' memory
            # instead of growing the heap around them (freed but fragmented memory stays in the RSS).
            batch = [kept.popleft() for _ in range(min(len(kept), CATCH_UP_BATCH_ROWS))]
            self.window.append([(ts, fix, series_values(line.split(","))) for ts, fix, line in batch])
        self.qc_marks.poll(sorted(self.offsets))
        gc.collect()  # give the memory of the catch-up back before serving
        log.info("read %d rows from %s; %d in the live window", self.rows_read, self._names(), len(self.window))

    def _names(self):
        return ", ".join(path.name for path in sorted(self.offsets)) or f"nothing yet in {self.data_dir}"

    def poll(self):
        """Read what was appended since the last call and add it to the window (one pass of the loop)."""
        self.heartbeat = time.monotonic()
        self._rescan()
        batch = []
        for path in sorted(self.offsets):
            batch.extend((ts, fix, series_values(row)) for ts, fix, row in self._read_new_rows(path, live=True))
        self.qc_marks.poll(sorted(self.offsets))  # before the rows: a stream sends a batch of marks before them
        self.window.append(batch)

    def _rescan(self, force=False):
        now = time.monotonic()
        if not force and now - self._last_scan < RESCAN_INTERVAL_S:
            return
        self._last_scan = now
        newest_two = daily_files(self.data_dir)[-2:]
        if not newest_two:
            if not self._missing_logged:
                log.warning("no daily data file in %s yet; waiting for ingest", self.data_dir)
                self._missing_logged = True
            return
        self._missing_logged = False
        for path in list(self.offsets):
            if path not in newest_two:
                # Read what the dropped file still holds before letting it go.
                if not force:
                    self.window.append(
                        [(ts, fix, series_values(row)) for ts, fix, row in self._read_new_rows(path, live=True)]
                    )
                del self.offsets[path]
        for path in newest_two:
            if path not in self.offsets:
                self.offsets[path] = 0
                log.info("following %s", path)
        if self.tally is None or self.tally.report.name != newest_two[-1].name:
            # A newer file was just added at offset 0, so the tally sees all of its rows.
            self.tally = DayTally(newest_two[-1])

    def _read_new_rows(self, path, live):
        """Yield (ts, fix, row) for the complete lines of `path` after its saved offset."""
        offset = self.offsets.get(path, 0)
        try:
            size = os.stat(path).st_size
        except FileNotFoundError:
            return
        if size < offset:
            log.warning("%s shrank from %d to %d bytes (replaced?); reading it from the start", path, offset, size)
            offset = 0
        arrival = self.clock()
        previous_ts = None
        count_for_tally = self.tally is not None and self.tally.report.name == path.name
        while size > offset:
            try:
                lines, new_offset = read_complete_lines(path, offset, READ_CHUNK_BYTES)
            except FileNotFoundError:
                # Removed between the stat and the read (a crew tidying the data directory): the next rescan
                # lets it go. Never a reason for the reader, and with it the whole web daemon, to stop.
                log.info("%s was removed while being read", path)
                return
            if new_offset == offset:
                break  # only a partly written last line
            offset = new_offset
            self.offsets[path] = offset
            self.heartbeat = time.monotonic()  # a long catch-up of appended rows is progress too
            for line in lines:
                parsed = self._rows.parse(line)
                if parsed is None:
                    continue
                gps_ts, row = parsed
                self.rows_read += 1
                if count_for_tally:
                    self.tally.add(gps_ts)
                if gps_ts is None:
                    # No fix: timed by arrival; rows read in one burst are spaced 1 s after the previous row.
                    ts = round(arrival, 3) if previous_ts is None else previous_ts + 1
                    previous_ts = ts
                    yield ts, False, row
                    continue
                if live and arrival - gps_ts > BACKFILL_DELAY_S:
                    self.backfilled_rows += 1
                previous_ts = gps_ts
                yield gps_ts, True, row
