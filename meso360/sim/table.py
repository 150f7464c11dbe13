"""The simulated logger's memory: the ring table, the clock thread that fills it, and pending faults."""

import collections
import logging
import random
import threading
import time
from dataclasses import dataclass

from meso360.sim.replay import Record, utc

log = logging.getLogger("meso360.sim")

FAULT_KINDS = ("outage", "http_error", "slow", "malformed", "frozen_gps", "no_fix", "recompile")
MALFORMED_VARIANTS = ("json", "fields", "garbage", "html200", "huge")


class FaultError(ValueError):
    """A fault request the simulator cannot honour."""


@dataclass(frozen=True)
class TableOptions:
    start_seconds: int
    rate: float = 1.0
    prefill: int = 0
    table_size: int = 86400
    first_record: int = 0
    history_size: int = 200_000
    signature: int | None = None


class Logger:
    """Records, clock and fault state shared by the HTTP handlers; every method is thread-safe."""

    def __init__(self, rows, options):
        self.rows = rows
        self.options = options
        self._lock = threading.Condition()
        self._random = random.Random(options.start_seconds)
        self.signature = options.signature if options.signature is not None else self._random.randrange(1, 65535)
        self.table = collections.deque(maxlen=options.table_size)
        # Every record produced, per signature, so tests can compare files even after the ring dropped them.
        self.history = collections.deque(maxlen=options.history_size)
        self.next_no = options.first_record
        self.next_seconds = options.start_seconds - max(options.prefill - 1, 0)
        self._row = 0
        self._last_gps_seconds = None
        self.records_total = 0
        self.requests = 0
        self.faults = {}  # kind -> params, with a remaining "count"
        self.outage_until = None  # monotonic deadline while the logger socket is closed
        with self._lock:
            for _ in range(options.prefill):
                self._produce_locked()

    # -- production -------------------------------------------------------------------------

    def _produce_locked(self):
        seconds = self.next_seconds
        if self._take_locked("no_fix"):
            gps_seconds = None
        elif self._take_locked("frozen_gps") and self._last_gps_seconds is not None:
            gps_seconds = self._last_gps_seconds
        else:
            gps_seconds = seconds
        record = Record(self.next_no, seconds, self._row, gps_seconds)
        self._last_gps_seconds = gps_seconds if gps_seconds is not None else self._last_gps_seconds
        self.table.append(record)
        self.history.append((self.signature, record))
        self.next_no += 1
        self.next_seconds += 1
        self._row = (self._row + 1) % len(self.rows)
        self.records_total += 1
        self._lock.notify_all()
        return record

    def produce(self):
        """Store the next record (logger time advances one second) and return it."""
        with self._lock:
            return self._produce_locked()

    def run_clock(self, stop_event, on_record=None):
        """Produce records at options.rate per wall second until stop_event is set."""
        interval = 1.0 / self.options.rate
        started = time.monotonic()
        produced = 0
        while not stop_event.is_set():
            if self.options.prefill == 0 and produced == 0:
                delay = 0.0
            else:
                delay = started + (produced + 1) * interval - time.monotonic()
            if delay > 0 and stop_event.wait(delay):
                break
            record = self.produce()
            produced += 1
            if on_record is not None:
                on_record(record)

    # -- reading ----------------------------------------------------------------------------

    def snapshot(self):
        """Return (signature, list of records in the table, oldest first)."""
        with self._lock:
            return self.signature, list(self.table)

    def newest(self):
        with self._lock:
            return self.table[-1] if self.table else None

    def clock_seconds(self):
        """The logger clock: the newest record's time, or the wall clock when the table is empty."""
        newest = self.newest()
        return newest.seconds if newest is not None else int(time.time())

    def wait_for_record(self, number, timeout_seconds):
        """Block until record `number` exists in the current table (or timeout); return True if it does."""
        deadline = time.monotonic() + timeout_seconds
        with self._lock:
            while not (self.table and self.table[-1].no >= number):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._lock.wait(remaining)
            return True

    def history_records(self, first, last, signature=None):
        """Return the produced records numbered first..last (inclusive) under `signature` (default: current)."""
        with self._lock:
            wanted = self.signature if signature is None else signature
            return [record for sig, record in self.history if sig == wanted and first <= record.no <= last]

    def state(self):
        with self._lock:
            return {
                "signature": self.signature,
                "newest_record": self.table[-1].no if self.table else None,
                "oldest_record": self.table[0].no if self.table else None,
                "newest_time": utc(self.table[-1].seconds).isoformat() + "Z" if self.table else None,
                "table_records": len(self.table),
                "records_total": self.records_total,
                "requests": self.requests,
                "outage": self.outage_until is not None,
                "faults": {kind: dict(params) for kind, params in self.faults.items()},
            }

    # -- faults -----------------------------------------------------------------------------

    def _take_locked(self, kind):
        """Consume one count of fault `kind`; return its params if it applied, else None."""
        params = self.faults.get(kind)
        if params is None:
            return None
        params["count"] -= 1
        if params["count"] <= 0:
            del self.faults[kind]
        return params

    def begin_request(self):
        """Count a logger request and return the faults it must suffer: {kind: params}."""
        with self._lock:
            self.requests += 1
            applied = {}
            for kind in ("http_error", "slow", "malformed"):
                params = self._take_locked(kind)
                if params is not None:
                    applied[kind] = dict(params)
            return applied

    def add_fault(self, fault):
        """Validate and register a fault request (a dict with "kind"); return the normalised params.

        Raise FaultError if the kind or its parameters are invalid. "outage" and "recompile" act at once
        and are handled by the caller (outage) or here (recompile).
        """
        kind = fault.get("kind")
        if kind not in FAULT_KINDS:
            raise FaultError(f"unknown fault kind {kind!r}; known: {', '.join(FAULT_KINDS)}")
        try:
            params = _fault_params(kind, fault)
        except KeyError as error:
            raise FaultError(f"{kind} needs the parameter {error}") from error
        except (TypeError, ValueError) as error:
            raise FaultError(f"bad parameters for {kind}: {error}") from error
        with self._lock:
            if kind == "recompile":
                self._recompile_locked()
            elif kind != "outage":
                self.faults[kind] = params
        log.info("fault injected: %s %s", kind, params)
        return params

    def _recompile_locked(self):
        old = self.signature
        while self.signature == old:
            self.signature = self._random.randrange(1, 65535)
        self.table.clear()
        self.next_no = 0
        log.info("program recompiled: signature %s -> %s, record numbers restart at 0", old, self.signature)

    def clear_faults(self):
        with self._lock:
            self.faults.clear()


def _fault_params(kind, fault):
    count = int(fault.get("count", 1))
    if count < 1:
        raise ValueError("count must be >= 1")
    if kind == "outage":
        seconds = float(fault["seconds"])
        if not 0 < seconds <= 86400:
            raise ValueError("seconds must be in (0, 86400]")
        return {"seconds": seconds}
    if kind == "http_error":
        status = int(fault.get("status", 503))
        if not 400 <= status <= 599:
            raise ValueError("status must be 4xx or 5xx")
        return {"status": status, "count": count}
    if kind == "slow":
        seconds = float(fault["seconds"])
        if not 0 < seconds <= 600:
            raise ValueError("seconds must be in (0, 600]")
        return {"seconds": seconds, "count": count}
    if kind == "malformed":
        variant = fault.get("variant", "json")
        if variant not in MALFORMED_VARIANTS:
            raise ValueError(f"variant must be one of {', '.join(MALFORMED_VARIANTS)}")
        return {"variant": variant, "count": count}
    if kind in ("frozen_gps", "no_fix"):
        return {"count": count}
    return {}
