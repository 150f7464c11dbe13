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


class UnreadableStateError(ValueError):
    """The state file exists but does not hold a valid state (corrupt JSON, wrong shape or types)."""


_OPTIONAL_TEXT_FIELDS = ("signature", "last_raw_gps", "last_written_gps", "file")


def read(path):
    """Return the TableState saved at `path`, or None if there is none.

    Raise UnreadableStateError when the file is not a valid state: not JSON, not an object, or a value of the
    wrong type (the state is never trusted half-way: a wrong value would move the resume point).
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as error:
        raise UnreadableStateError(f"cannot read it: {error}") from error
    try:
        data = json.loads(text)
    except ValueError as error:
        raise UnreadableStateError(f"not JSON: {error}") from error
    if not isinstance(data, dict):
        raise UnreadableStateError(f"not a JSON object but {type(data).__name__}")
    known = {f.name for f in dataclasses.fields(TableState)}
    state = TableState(**{key: value for key, value in data.items() if key in known})
    for name in _OPTIONAL_TEXT_FIELDS:
        value = getattr(state, name)
        if value is not None and not isinstance(value, str):
            raise UnreadableStateError(f"{name} is {value!r}, not text")
    if state.last_record is not None and (not _is_integer(state.last_record) or state.last_record < -1):
        raise UnreadableStateError(f"last_record is {state.last_record!r}, not a record number (or -1)")
    if state.file_size is None:
        state.file_size = 0
    if not _is_integer(state.file_size) or state.file_size < 0:
        raise UnreadableStateError(f"file_size is {state.file_size!r}, not a size in bytes")
    return state


def _is_integer(value):
    return isinstance(value, int) and not isinstance(value, bool)


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


class StateFile:
    """The state file of table `table`, whose rows go to `directory`: loaded with its problems logged once each."""

    def __init__(self, path, table, directory):
        self.path = Path(path)
        self.table = table
        self.directory = Path(directory)
        self.problem = None  # the last problem logged (logged once, not per retry)

    def load(self):
        """Return the saved state, or None when there is none, it is unreadable, or it names a file outside
        `directory` (then logged once per problem: the resume goes as without state)."""
        try:
            saved = read(self.path)
        except UnreadableStateError as error:
            self._ignored(f"is unreadable ({error})")
            return None
        if saved is not None and saved.file is not None and Path(saved.file).parent != self.directory:
            self._ignored(f"names {saved.file}, not in {self.directory}")
            return None
        return saved

    def _ignored(self, problem):
        if problem != self.problem:
            log.error("%s: state file %s %s: ignored, resuming as without state", self.table, self.path, problem)
        self.problem = problem

    def save(self, state, sync_directory=True):
        """save() the state to this file. Raise OSError if it cannot be."""
        save(self.path, state, sync_directory)
