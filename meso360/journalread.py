"""The journal of the meso360 units, and only of them: the program behind the web panel's log view.

journald has no per-unit read permission: reading any of the system journal takes the systemd-journal
group, which reads all of it. The web daemon (network-facing) therefore does not get that group. It
connects to /run/meso360-journal.sock instead; systemd starts this program for each connection
(meso360-journal@.service: a transient user in systemd-journal, sandboxed, no network), and it sends the
entries of the meso360 units alone. Without that socket (a developer's machine, the tests) the web daemon
calls the same functions in its own process, with whatever journal access its user has.

Protocol: the client sends one line of JSON {"lines": N, "cursor": "..."}; the answer is one JSON line per
entry {"cursor", "time", "unit", "priority", "message"}: the last N (or those after `cursor`), then each new
one, until the client closes the connection; an empty line every KEEPALIVE_S while nothing happens, and
{"info": "..."} when there is no journal to read.
"""

import datetime as dt
import json
import logging
import os
import select
import sys

from meso360 import systemd_units

SOCKET_PATH = "/run/meso360-journal.sock"
# The daemons, the target, and the root helper that enables/disables them for the panel.
UNITS = systemd_units.ALL_UNITS + systemd_units.UNITFILE_INSTANCES
UNITS += ("meso360-avahi.service",)  # what the panel is announced as, on which port (meso360/mdns.py)
MAX_LINES = 5000
KEEPALIVE_S = 15.0
BATCH = 500

log = logging.getLogger(__name__)


def open_reader():
    """Return a journal Reader matching the meso360 units only, or (None, why) when there is no journal here."""
    try:
        from systemd import journal
    except ImportError:
        return None, "the systemd Python module is not installed: no journal"
    if not os.path.isdir("/run/systemd/journal"):
        return (
            None,
            "journald is not running on this machine (no systemd): the daemons log to the terminal that runs them",
        )
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


def record(entry):
    """Given a journal entry (a dict from systemd.journal.Reader), return the JSON-ready record sent on."""
    when = entry.get("__REALTIME_TIMESTAMP")
    message = entry.get("MESSAGE", "")
    if isinstance(message, bytes):
        message = message.decode("utf-8", errors="replace")
    unit = entry.get("_SYSTEMD_UNIT")
    return {
        "cursor": entry.get("__CURSOR", ""),
        "time": when.astimezone(dt.UTC).isoformat().replace("+00:00", "Z") if isinstance(when, dt.datetime) else None,
        "unit": unit if unit in UNITS else entry.get("UNIT", ""),
        "priority": int(entry.get("PRIORITY", 6)),
        "message": str(message),
    }


def first_records(reader, count, cursor):
    """Return the records after `cursor` (when the journal still has it), else the last `count`; leave the
    reader positioned after the last one returned."""
    if cursor:
        try:
            reader.seek_cursor(cursor)
            reader.get_next()  # the entry the client already has
            return [record(entry) for entry in reader]
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
    return [record(entry) for entry in entries]


def new_records(reader, wait_s):
    """Wait up to wait_s for new entries; return their records (at most BATCH)."""
    reader.wait(wait_s)
    records = []
    for entry in reader:
        records.append(record(entry))
        if len(records) >= BATCH:
            break
    return records


def parse_request(line):
    """Given the client's request line, return (count, cursor); bad input gives the defaults, never an error."""
    try:
        request = json.loads(line or "{}")
        count = min(max(int(request.get("lines", 200)), 0), MAX_LINES)
        cursor = str(request.get("cursor") or "")
    except (ValueError, TypeError, AttributeError):
        return 200, ""
    return count, cursor


def serve(client_in, client_out):
    """Answer one client (binary file objects of the accepted socket) until it closes the connection."""
    count, cursor = parse_request(client_in.readline(4096).decode("utf-8", errors="replace"))

    def send(items):
        client_out.write(b"".join(json.dumps(item).encode() + b"\n" for item in items))
        client_out.flush()

    reader, why = open_reader()
    if reader is None:
        send([{"info": why}])
        select.select([client_in], [], [])  # until the client closes
        return
    try:
        send(first_records(reader, count, cursor))
        poller = select.poll()
        poller.register(client_in.fileno(), select.POLLIN | select.POLLHUP)
        idle_s = 0.0
        while True:
            if poller.poll(0):
                return  # the client sent more or closed: either way this conversation is over
            records = new_records(reader, 1.0)
            if records:
                idle_s = 0.0
                send(records)
            else:
                idle_s += 1.0
                if idle_s >= KEEPALIVE_S:
                    idle_s = 0.0
                    client_out.write(b"\n")
                    client_out.flush()
    finally:
        reader.close()


def main():
    """meso360-journal@.service: stdin and stdout are the accepted connection (Accept=yes)."""
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    try:
        serve(sys.stdin.buffer, sys.stdout.buffer)
    except BrokenPipeError:
        pass  # the client went away while we wrote


if __name__ == "__main__":
    main()
