"""What the last sync of a vehicle did: DATA_ROOT/VEHICLE/sync.json and the textfile metrics/sync_VEHICLE.prom."""

import json

from meso360.atomic import write_atomically

STATE_FILE = "sync.json"

# (name, help): gauges per vehicle in the textfile; the node exporter serves them, SyncBehind alerts on the first.
METRICS = (
    (
        "meso360_base_sync_last_success_timestamp_seconds",
        "Time of the vehicle's last successful sync (before any success: its first attempt).",
        "last_success_or_first_attempt",
    ),
    ("meso360_base_sync_last_attempt_timestamp_seconds", "Time of the vehicle's last sync attempt.", "last_attempt"),
    ("meso360_base_sync_ok", "1 when the vehicle's last sync succeeded, else 0.", "ok"),
    (
        "meso360_base_sync_files_transferred",
        "Files that differed (new, grown or rewritten) and were moved by the last successful sync.",
        "files_transferred",
    ),
    ("meso360_base_sync_bytes_moved", "New data moved by the last successful sync (bytes).", "bytes_moved"),
)


def state_path(fleet, name):
    return fleet.vehicle_dir(name) / STATE_FILE


def read_state(fleet, name):
    """Return the vehicle's sync.json as a dict, or None when it never ran (or the file is unreadable)."""
    try:
        state = json.loads(state_path(fleet, name).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return state if isinstance(state, dict) else None


def record(fleet, name, result, started):
    """Merge the SyncResult of an attempt started at `started` into the state; write it and the textfile."""
    previous = read_state(fleet, name) or {}
    state = {
        "vehicle": name,
        "first_attempt": previous.get("first_attempt", started),
        "last_attempt": started,
        "last_success": started if result.ok else previous.get("last_success"),
        "ok": result.ok,
        "error": None if result.ok else result.error,
        # 0 after a success (everything the vehicle had is here); unknown while it cannot be reached.
        "files_behind": 0 if result.ok else None,
        "files_transferred": result.files_transferred if result.ok else previous.get("files_transferred", 0),
        "bytes_moved": result.bytes_moved if result.ok else previous.get("bytes_moved", 0),
    }
    state_path(fleet, name).parent.mkdir(parents=True, exist_ok=True)
    write_atomically(state_path(fleet, name), json.dumps(state, indent=1) + "\n")
    fleet.base.metrics_dir.mkdir(parents=True, exist_ok=True)
    write_atomically(fleet.base.metrics_dir / f"sync_{name}.prom", metrics_text(state))
    return state


def metrics_text(state):
    """Return the Prometheus text exposition of one vehicle's sync state."""
    values = dict(state, ok=int(bool(state["ok"])))
    values["last_success_or_first_attempt"] = state["last_success"] or state["first_attempt"]
    lines = []
    for metric, help_text, key in METRICS:
        lines += [f"# HELP {metric} {help_text}", f"# TYPE {metric} gauge"]
        lines.append(f'{metric}{{vehicle="{state["vehicle"]}"}} {values[key]}')
    return "\n".join(lines) + "\n"


def describe_last_success(state, now):
    """Return "last success 5 min ago" / "never synced" for a log line or the status table."""
    if not state or not state.get("last_success"):
        return "never synced"
    return f"last success {age_text(now - state['last_success'])} ago"


def age_text(seconds):
    """Return a short age: 12 s, 5 min, 3 h 20 min, 2 d 4 h."""
    seconds = max(0, int(seconds))
    if seconds < 120:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 120:
        return f"{minutes} min"
    hours = minutes // 60
    if hours < 48:
        return f"{hours} h {minutes % 60} min"
    return f"{hours // 24} d {hours % 24} h"
