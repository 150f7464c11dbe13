"""Resume state of one logger table in state_dir: what was written last, saved by atomic replace."""

import dataclasses
import json
import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)


@dataclasses.dataclass
class TableState:
    """Where a table's collection stands: the last record written and the file it went to.

    `file_size` is the size of `file` right after the last record accounted for was written; any complete lines
    beyond it were written after the last save (crash window) and are reconciled at start.
    """

    signature: str | None = None
    last_record: int | None = None
    last_raw_gps: str | None = None  # "DDMMYY HHMMSS" as the logger sent it, or None without a fix
    last_written_gps: str | None = None  # "DDMMYY HHMMSS" as written (frozen GPS corrected)
    file: str | None = None
    file_size: int = 0


def load(path):
    """Return the TableState saved at `path`, or None if there is none. A corrupt file is logged and ignored."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    try:
        data = json.loads(text)
        known = {f.name for f in dataclasses.fields(TableState)}
        state = TableState(**{key: value for key, value in data.items() if key in known})
        if state.last_record is not None:
            state.last_record = int(state.last_record)
        state.file_size = int(state.file_size or 0)
        return state
    except (ValueError, TypeError, AttributeError) as error:
        log.error("state file %s is unreadable (%s); starting as without state", path, error)
        return None


def save(path, state, sync_directory=True):
    """Write `state` to `path` atomically and durably: temp file, fsync, rename, fsync the directory.

    sync_directory=False skips the directory fsync: after a power cut the previous state may come back, which the
    start-up reconciliation handles as long as it names the same file (callers sync at every file switch).

    Raise OSError if the state directory is not writable (disk full, read-only).
    """
    path = Path(path)
    temporary = path.with_name(f".{path.name}.tmp")
    data = (json.dumps(dataclasses.asdict(state), sort_keys=True) + "\n").encode()
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temporary, path)
    if not sync_directory:
        return
    directory = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
