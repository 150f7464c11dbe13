"""The simulated logger's memory: the ring table, the clock thread that fills it, and pending faults."""

import collections
import logging
import random
import threading
import time
from dataclasses import dataclass

from meso360.sim.replay import Record, utc
from meso360.sim.state import LoggerState

log = logging.getLogger("meso360.sim")

FAULT_KINDS = ("outage", "http_error", "slow", "malformed", "frozen_gps", "no_fix", "recompile")
MALFORMED_VARIANTS = ("json", "fields", "garbage", "html200", "huge")


class FaultError(ValueError):
    """A fault request the simulator cannot honour."""


@dataclass(frozen=True)
class TableOptions:
    """How the simulated logger makes and keeps its records (the options of meso360-sim, README "Logger simulator")."""

    start_seconds: int  # logger time (epoch s) of the first record made; with prefill, of the newest prefilled one
    rate: float = 1.0  # records produced per wall-clock second (each is one logger second after the previous)
    prefill: int = 0  # records already held at a first start
    table_size: int = 86400  # records the ring table holds; the oldest are dropped
    first_record: int = 0  # number of the first record
    history_size: int = 200_000  # records kept for GET /records (also those the ring dropped)
    signature: int | None = None  # table signature; None: random
    # The state a previous run saved: go on as that logger (prefill, start time, first record and
    # signature are then ignored).
    resume: LoggerState | None = None


class Logger:
    """Records, clock and fault state shared by the HTTP handlers; every method is thread-safe."""

    def __init__(self, rows, options, now=None):
        """`now`: the wall clock (epoch seconds) at start, for tests; default time.time()."""
        self.rows = rows
        self.options = options
        self.interval_seconds = 1.0 / options.rate
        self._lock = threading.Condition()
        self._random = random.Random(options.start_seconds)  # noqa: S311  simulated data, no secret
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
        self.resumed = None  # after a resume: {"held", "produced_while_stopped"} (record counts)
        now = time.time() if now is None else now
        with self._lock:
            if options.resume is not None:
                self._resume_locked(options.resume, now)
            else:
                for _ in range(options.prefill):
                    self._produce_locked()
                # The newest prefilled record is stamped "now"; without prefill the first is due at once.
                self.next_due_wall = now + (self.interval_seconds if options.prefill else 0.0)

    def _resume_locked(self, state, now):
        """Go on as the logger `state` describes: rebuild the records its table held, then produce the
        records due while it was stopped (the newest table_size of them), one logger second apart."""
        due = state.next_due_wall
        if due > now + self.interval_seconds:
            log.warning("state file: the next record was due %.0f s in the future; the clock went back?", due - now)
            due, due_while_stopped = now, 0
        else:
            due_while_stopped = 0 if now < due else int((now - due) // self.interval_seconds) + 1
        held = min(state.held_records, state.next_record, self.options.table_size)
        kept = min(held + due_while_stopped, self.options.table_size)
        skipped = held + due_while_stopped - kept  # the ring overwrote them while it was stopped
        offset = skipped - held  # of the oldest record kept, from state.next_record
        self.signature = state.signature
        self.next_no = state.next_record + offset
        self.next_seconds = state.next_seconds + offset
        self._row = (state.replay_row + offset) % len(self.rows)
        self._last_gps_seconds = self.next_seconds - 1
        exceptions = dict(state.gps_exceptions)
        for _ in range(kept):
            self._produce_locked(exceptions)
        self.next_due_wall = due + due_while_stopped * self.interval_seconds
        self.resumed = {"held": max(0, held - skipped), "produced_while_stopped": due_while_stopped}
        log.info(
            "resumed logger signature %s: records %s..%s held; %d produced for the %.0f s it was stopped"
            " (%d no longer held: table size %d)",
            self.signature,
            self.table[0].no if self.table else None,
            self.table[-1].no if self.table else None,
            due_while_stopped,
            max(0.0, now - state.next_due_wall),
            skipped,
            self.options.table_size,
        )

    # -- production -------------------------------------------------------------------------

    def _produce_locked(self, gps_exceptions=None):
        seconds = self.next_seconds
        if gps_exceptions and self.next_no in gps_exceptions:
            gps_seconds = gps_exceptions[self.next_no]  # a held record rebuilt as it was
        elif self._take_locked("no_fix"):
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
        """Store the next record (logger time advances one second, the next is due one interval later)."""
        with self._lock:
            self.next_due_wall += self.interval_seconds
            return self._produce_locked()

    def run_clock(self, stop_event, on_record=None):
        """Produce records at options.rate per wall second until stop_event is set, from next_due_wall on."""
        with self._lock:
            first_due = time.monotonic() + (self.next_due_wall - time.time())
        produced = 0
        while not stop_event.is_set():
            delay = first_due + produced * self.interval_seconds - time.monotonic()
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

    def saved_state(self):
        """Return the LoggerState a restart needs to go on as this logger."""
        with self._lock:
            return LoggerState(
                signature=self.signature,
                next_record=self.next_no,
                next_seconds=self.next_seconds,
                replay_row=self._row,
                next_due_wall=self.next_due_wall,
                held_records=len(self.table),
                gps_exceptions=tuple((r.no, r.gps_seconds) for r in self.table if r.gps_seconds != r.seconds),
            )

    def state(self):
        with self._lock:
            return {
                "signature": self.signature,
                "resumed": self.resumed,
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
