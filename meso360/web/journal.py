"""The journal of the meso360 units as SSE `log` events (systemd.journal.Reader): the last N, then follow."""

import datetime as dt
import json
import logging
import os
import re

from meso360 import unitfile
from meso360.web.systemd import COMPONENTS, TARGET, unit_of, unitfile_instance

log = logging.getLogger(__name__)

# The daemons, the target, and the root helper that enables/disables them for the panel.
UNITS = (
    tuple(unit_of(component) for component in COMPONENTS)
    + (TARGET,)
    + tuple(unitfile_instance(verb, component) for verb in unitfile.VERBS for component in unitfile.COMPONENTS)
)
WAIT_S = 1.0
_SEQNUM_RE = re.compile(r"(?:^|;)i=([0-9a-f]+)")


def _open_reader():
    """Return a journal Reader matching the meso360 units, or (None, why) when there is no journal here."""
    try:
        from systemd import journal
    except ImportError:
        return None, "the systemd Python module is not installed: no journal"
    if not os.path.isdir("/run/systemd/journal"):
        return None, "journald is not running on this machine (no systemd): no journal to show"
    try:
        reader = journal.Reader()
    except OSError as error:
        return None, f"cannot open the journal: {error}"
    for unit in UNITS:
        reader.add_match(_SYSTEMD_UNIT=unit)
    reader.add_disjunction()
    for unit in UNITS:
        # systemd's own messages about the units (started, stopped, failed).
        reader.add_match(UNIT=unit)
    return reader, ""


def _event(entry):
    cursor = entry.get("__CURSOR", "")
    match = _SEQNUM_RE.search(cursor)
    when = entry.get("__REALTIME_TIMESTAMP")
    message = entry.get("MESSAGE", "")
    if isinstance(message, bytes):
        message = message.decode("utf-8", errors="replace")
    data = {
        "id": int(match.group(1), 16) if match else None,
        "cursor": cursor,
        "time": when.astimezone(dt.UTC).isoformat().replace("+00:00", "Z") if isinstance(when, dt.datetime) else None,
        "unit": entry.get("_SYSTEMD_UNIT") if entry.get("_SYSTEMD_UNIT") in UNITS else entry.get("UNIT", ""),
        "priority": int(entry.get("PRIORITY", 6)),
        "message": str(message),
    }
    return f"id: {cursor}\nevent: log\ndata: {json.dumps(data)}\n\n"


def _info(text):
    data = {"id": None, "cursor": None, "time": None, "unit": "meso360-web.service", "priority": 5, "message": text}
    return f"event: log\ndata: {json.dumps(data)}\n\n"


def log_events(count, cursor, stop_event, keepalive_s):
    """Yield SSE frames: the last `count` journal entries (or those after `cursor`), then new ones."""
    yield "retry: 3000\n\n"
    reader, why = _open_reader()
    if reader is None:
        yield _info(why)
        while not stop_event.wait(keepalive_s):
            yield ": keep-alive\n\n"
        return
    try:
        yield "".join(_first_entries(reader, count, cursor)) or ": no journal entries yet\n\n"
        idle_s = 0.0
        while not stop_event.is_set():
            reader.wait(WAIT_S)
            frames = []
            for entry in reader:
                frames.append(_event(entry))
                if len(frames) >= 500:
                    break
            if frames:
                idle_s = 0.0
                yield "".join(frames)
            else:
                idle_s += WAIT_S
                if idle_s >= keepalive_s:
                    idle_s = 0.0
                    yield ": keep-alive\n\n"
    finally:
        reader.close()


def _first_entries(reader, count, cursor):
    if cursor:
        try:
            reader.seek_cursor(cursor)
            reader.get_next()  # the entry the client already has
            return [_event(entry) for entry in reader]
        except (OSError, ValueError):
            log.info("journal cursor %r not found; sending the last %d entries", cursor, count)
    reader.seek_tail()
    entries = []
    for _ in range(count):
        entry = reader.get_previous()
        if not entry:
            break
        entries.append(entry)
    entries.reverse()
    reader.seek_tail()
    if entries:
        # Continue after the newest entry sent.
        reader.seek_cursor(entries[-1]["__CURSOR"])
        reader.get_next()
    return [_event(entry) for entry in entries]
