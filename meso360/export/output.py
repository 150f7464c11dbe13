"""Where an export goes: standard output, or a file written whole under a temporary name and then renamed."""

import contextlib
import os
from pathlib import Path

from meso360.errors import Meso360Error


class OutputExistsError(Meso360Error):
    """The output file exists and --force was not given."""


def write_atomically(target, write_to_path, *, force=False):
    """Call write_to_path(temporary path) beside `target`, then rename the result to `target`; return its result.

    Nothing is left at `target` or beside it when write_to_path raises. Raise OutputExistsError when `target`
    exists and not `force`.
    """
    target = Path(target)
    if target.exists() and not force:
        raise OutputExistsError(f"{target} exists: give --force to replace it")
    temporary = target.with_name(f".{target.name}.{os.getpid()}.partial")
    try:
        result = write_to_path(temporary)
        os.replace(temporary, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
    return result


def text_writer(write_stream):
    """Return a write_to_path for write_atomically that opens the path as UTF-8 text (bare \\n newlines)."""

    def write_to_path(path):
        with open(path, "x", encoding="utf-8", newline="") as stream:
            return write_stream(stream)

    return write_to_path
