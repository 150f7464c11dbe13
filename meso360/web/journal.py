"""The journal of the meso360 units as SSE `log` events: the last N, then follow.

Installed, the entries come from /run/meso360-journal.sock (meso360.journalread behind it, with the
journal rights this daemon does not have); without that socket, from the same code in this process.
"""

import json
import logging
import os
import re
import socket

from meso360 import journalread

log = logging.getLogger(__name__)

UNITS = journalread.UNITS
WAIT_S = 1.0
_SEQNUM_RE = re.compile(r"(?:^|;)i=([0-9a-f]+)")


def _event(record):
    cursor = record.get("cursor") or ""
    match = _SEQNUM_RE.search(cursor)
    data = {"id": int(match.group(1), 16) if match else None, **record}
    return f"id: {cursor}\nevent: log\ndata: {json.dumps(data)}\n\n"


def _info(text):
    data = {"id": None, "cursor": None, "time": None, "unit": "meso360-web.service", "priority": 5, "message": text}
    return f"event: log\ndata: {json.dumps(data)}\n\n"


def _records_in_process(count, cursor, stop_event):
    """Yield lists of records (an empty list after each idle WAIT_S), read by this process; or str: why none."""
    reader, why = journalread.open_reader()
    if reader is None:
        yield why
        return
    try:
        yield journalread.first_records(reader, count, cursor)
        while not stop_event.is_set():
            yield journalread.new_records(reader, WAIT_S)
    finally:
        reader.close()


def _records_from_socket(count, cursor, stop_event, path):
    """Yield lists of records (an empty list after each idle WAIT_S) from the journal socket; or str: why none."""
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        connection.settimeout(5.0)
        connection.connect(path)
        connection.sendall(json.dumps({"lines": count, "cursor": cursor}).encode() + b"\n")
        connection.settimeout(WAIT_S)
        pending = b""
        while not stop_event.is_set():
            try:
                chunk = connection.recv(65536)
            except TimeoutError:
                yield []
                continue
            if not chunk:
                yield "the journal reader ended the stream; reload to see new entries"
                return
            *lines, pending = (pending + chunk).split(b"\n")
            items = [json.loads(line) for line in lines if line.strip()]
            infos = [item["info"] for item in items if "info" in item]
            if infos:
                yield infos[0]
                return
            yield items
    except OSError as error:
        yield f"cannot read the journal through {path}: {error}"
    finally:
        connection.close()


def log_events(count, cursor, stop_event, keepalive_s, socket_path=journalread.SOCKET_PATH):
    """Yield SSE frames: the last `count` journal entries (or those after `cursor`), then new ones."""
    yield "retry: 3000\n\n"
    if os.path.exists(socket_path):
        source = _records_from_socket(count, cursor, stop_event, socket_path)
    else:
        source = _records_in_process(count, cursor, stop_event)
    idle_s = 0.0
    first = True
    for records in source:
        if isinstance(records, str):
            yield _info(records)
            break
        if records or first:
            yield "".join(_event(record) for record in records) or ": no journal entries yet\n\n"
            idle_s, first = 0.0, False
            continue
        idle_s += WAIT_S
        if idle_s >= keepalive_s:
            idle_s = 0.0
            yield ": keep-alive\n\n"
    while not stop_event.wait(keepalive_s):
        yield ": keep-alive\n\n"
