"""The logger's newest battery voltage (BattV, raw Obs field 17, not in the data files) in state_dir/logger.json.

meso360-ingest writes it (atomic replace, at most every WRITE_INTERVAL_S); the web daemon (panel, alarms) and
meso360ctl status read it. The data file format stays the legacy one, which drops BattV.
"""

import json
import logging
import os
import time

from meso360.datafile import RAW_OBS_FIELD_COUNT, number_or_none
from meso360.systemd_units import utc_iso

log = logging.getLogger(__name__)

FILE_NAME = "logger.json"
BATTERY_INDEX = 17  # raw Obs field BattV (volts), LEGACY.md §1
WRITE_INTERVAL_S = 5.0


def state_path(state_dir):
    return os.path.join(str(state_dir), FILE_NAME)


def battery_volts(raw_values):
    """Given a record's 19 raw Obs values as text, return BattV in volts, or None when missing or not a number."""
    if len(raw_values) != RAW_OBS_FIELD_COUNT:
        return None
    return number_or_none(raw_values[BATTERY_INDEX], infinity_is_missing=True)


def read_logger_state(state_dir):
    """Return {"battery_v", "record", "record_time", "updated_at"} from logger.json, or None when there is none
    or it cannot be read (a malformed file is not an error: ingest replaces it within seconds)."""
    try:
        with open(state_path(state_dir), encoding="utf-8") as file:
            state = json.load(file)
    except (OSError, ValueError):
        return None
    if not isinstance(state, dict):
        return None
    volts = state.get("battery_v")
    if not isinstance(volts, int | float) or isinstance(volts, bool):
        state["battery_v"] = None
    return state


class LoggerStateWriter:
    """Keep logger.json up to date from the newest Obs record written; writes at most every WRITE_INTERVAL_S."""

    def __init__(self, state_dir, clock=time.monotonic):
        self.path = state_path(state_dir)
        self.clock = clock
        self._written_at = None
        self._last_record = None
        self._failed = False

    def note(self, record):
        """Given the newest Obs Record written (or None), write its battery voltage when due."""
        if record is None or record.no == self._last_record:
            return
        if self._written_at is not None and self.clock() - self._written_at < WRITE_INTERVAL_S:
            return
        state = {
            "battery_v": battery_volts(record.values),
            "record": record.no,
            "record_time": record.time,
            "updated_at": utc_iso(time.time()),
        }
        self._written_at = self.clock()
        self._last_record = record.no
        self._write(state)

    def _write(self, state):
        temporary = f"{self.path}.tmp"
        try:
            with open(temporary, "w", encoding="utf-8") as file:
                json.dump(state, file)
                file.write("\n")
            os.replace(temporary, self.path)
            if self._failed:
                log.info("%s written again", self.path)
            self._failed = False
        except OSError as error:
            if not self._failed:
                log.warning("cannot write %s (the panel shows no battery voltage meanwhile): %s", self.path, error)
            self._failed = True
