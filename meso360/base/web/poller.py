"""The fleet poller: every poll_interval it reads the base Prometheus (one query) and the synced copies, builds
the snapshot, and when it changed encodes it once and hands it to the broadcaster and to GET /api/fleet."""

import json
import logging
import threading
import time

from meso360.base import sync_state
from meso360.base.web import snapshot
from meso360.base.web.broadcast import sse_frame
from meso360.ctl.fleet_status import PrometheusUnavailable, query_prometheus, query_samples

log = logging.getLogger(__name__)

QUERY_TIMEOUT_S = 2.0


class FleetPoller:
    """Holds the newest snapshot (`document`, `body`: its JSON bytes, `version`), renewed by its thread."""

    def __init__(self, fleet, publish=None, clock=time.time):
        self.fleet = fleet
        self._publish = publish or (lambda _frame: None)
        self._clock = clock
        self._lock = threading.Lock()
        self.document = None
        self.body = None
        self.version = 0
        self.heartbeat = 0.0  # monotonic time of the last finished pass (0: none yet)
        self.error = None  # why Prometheus did not answer the last pass, or None
        self.ready = threading.Event()
        self.page_port = None  # the bound port (listen port 0 in the tests), set by the daemon before start()

    def poll_once(self):
        """Read Prometheus and the sync states once; publish the snapshot if it changed; return True if it did."""
        samples, last_known, error = self._query()
        if error != self.error:
            (log.warning if error else log.info)("base Prometheus: %s", error or "answering")
            self.error = error
        names = [vehicle.name for vehicle in self.fleet.vehicles]
        syncs = {name: sync_state.read_state(self.fleet, name) for name in names}
        days = {name: snapshot.synced_days(self.fleet.vehicle_dir(name) / "data") for name in names}
        document = snapshot.build(self.fleet, samples, error, syncs, days, self._clock(), last_known, self.page_port)
        body = json.dumps(document, separators=(",", ":"), sort_keys=True).encode()
        self.heartbeat = time.monotonic()
        if body == self.body:
            return False
        with self._lock:
            self.version += 1
            self.document, self.body = document, body
            version = self.version
        self._publish(sse_frame(version, body))
        self.ready.set()
        return True

    def _query(self):
        """Return (samples, last known positions, None) from Prometheus, or ([], {}, why it did not answer)."""
        url = self.fleet.web.prometheus_url
        try:
            last_known = {
                key: query_prometheus(url, query, QUERY_TIMEOUT_S) for key, query in snapshot.LAST_KNOWN_QUERIES.items()
            }
            # The newest values last: the snapshot leaves as soon as they are in.
            samples = query_samples(url, snapshot.QUERY, QUERY_TIMEOUT_S)
        except PrometheusUnavailable as problem:
            return [], {}, str(problem)
        return samples, last_known, None

    def run(self, stop_event, on_pass=None):
        """Poll until stop_event is set, calling on_pass() after each pass (the broadcaster's keep-alive)."""
        while not stop_event.is_set():
            self.poll_once()
            if on_pass is not None:
                on_pass()
            stop_event.wait(self.fleet.web.poll_interval)

    def start(self, stop_event, on_pass=None):
        thread = threading.Thread(target=self.run, args=(stop_event, on_pass), name="fleet-poller", daemon=True)
        thread.start()
        return thread

    def counts(self):
        """Return {state: number of vehicles} of the newest snapshot (for STATUS)."""
        counts = {}
        for vehicle in (self.document or {}).get("vehicles", []):
            counts[vehicle["state"]] = counts.get(vehicle["state"], 0) + 1
        return counts
