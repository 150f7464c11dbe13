"""The simulator's state file: what a restart needs to go on as the same logger (JSON, replaced atomically).

A real logger keeps running while the vehicle computer is off; the simulator keeps its signature, record
numbers, clock and replay position here, so a restart continues the same record sequence.
"""

import dataclasses
import json
import logging
import math
import os
import tempfile
from pathlib import Path

log = logging.getLogger("meso360.sim")

STATE_VERSION = 1


@dataclasses.dataclass(frozen=True)
class LoggerState:
    """Where the simulated logger was when it stopped.

    next_due_wall is the wall-clock time (epoch seconds) at which the next record was due; held_records
    the records before next_record the table still held; gps_exceptions the (record number, GPS seconds
    or None) of held records whose GPS time is not their logger time (frozen GPS, no fix).
    """

    signature: int
    next_record: int
    next_seconds: int
    replay_row: int
    next_due_wall: float
    held_records: int
    gps_exceptions: tuple = ()

    def as_dict(self):
        """Return the JSON-ready form written to the state file."""
        return {"version": STATE_VERSION, **dataclasses.asdict(self)}


def _is_integer(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _integer(data, key, lowest, highest=None):
    value = data.get(key)
    if not _is_integer(value) or value < lowest or (highest is not None and value > highest):
        raise ValueError(f"{key} must be an integer >= {lowest}" + (f" and <= {highest}" if highest else ""))
    return value


def _gps_exceptions(data):
    pairs = data.get("gps_exceptions", [])
    valid = isinstance(pairs, list) and all(
        isinstance(pair, list) and len(pair) == 2 and _is_integer(pair[0]) and (pair[1] is None or _is_integer(pair[1]))
        for pair in pairs
    )
    if not valid:
        raise ValueError("gps_exceptions must be a list of [record number, GPS seconds or null]")
    return tuple((number, gps) for number, gps in pairs)


def state_from_dict(data):
    """Given the parsed JSON of a state file, return a LoggerState. Raise ValueError if anything is off."""
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    if data.get("version") != STATE_VERSION:
        raise ValueError(f"version must be {STATE_VERSION}")
    due = data.get("next_due_wall")
    if isinstance(due, bool) or not isinstance(due, int | float) or not math.isfinite(due):
        raise ValueError("next_due_wall must be a number")
    return LoggerState(
        signature=_integer(data, "signature", 1, 65535),
        next_record=_integer(data, "next_record", 0),
        next_seconds=_integer(data, "next_seconds", 0),
        replay_row=_integer(data, "replay_row", 0),
        next_due_wall=float(due),
        held_records=_integer(data, "held_records", 0),
        gps_exceptions=_gps_exceptions(data),
    )


def load_state(path):
    """Given the state file path, return its LoggerState, or None when there is none or it is unusable.

    A missing file is a first start; an unreadable or malformed one is logged and ignored (the
    simulator then starts as a new logger and replaces the file at its first save).
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        log.info("no state file %s yet: starting as a new logger", path)
        return None
    except (OSError, UnicodeDecodeError) as error:
        log.warning("ignoring the state file %s: cannot read it (%s); starting as a new logger", path, error)
        return None
    try:
        return state_from_dict(json.loads(text))
    except ValueError as error:
        log.warning("ignoring the state file %s: %s; starting as a new logger", path, error)
        return None


def save_state(path, state):
    """Write `state` to `path` atomically (temporary file, fsync, rename). Raise OSError if it cannot."""
    path = Path(path)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump(state.as_dict(), handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


class StateSaver:
    """Saves the logger's state on demand; a failing save is logged once per change, not every time."""

    def __init__(self, path, current_state):
        self.path = path
        self._current_state = current_state
        self._failing = False

    def save(self):
        """Save the current state; return True if it was written."""
        try:
            save_state(self.path, self._current_state())
        except OSError as error:
            if not self._failing:
                log.warning("cannot save the state file %s: %s (trying again)", self.path, error)
                self._failing = True
            return False
        if self._failing:
            log.info("state file %s saved again", self.path)
            self._failing = False
        return True
