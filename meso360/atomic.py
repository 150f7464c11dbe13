"""Replace a file whole: readers see the old content or the new, never half of it, even after a power cut."""

import contextlib
import os
import tempfile
from pathlib import Path


def write_atomically(path, content, mode=0o644, owner=None):
    """Write `content` (str: UTF-8, or bytes) to `path` through a temporary file beside it, then rename it.

    The temporary file is created with `mode` before anything is written (never more open), chowned to
    `owner` ((uid, gid); -1 keeps one) when given, and fsynced before the rename.
    """
    path = Path(path)
    data = content.encode("utf-8") if isinstance(content, str) else content
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "wb") as file:
            os.fchmod(file.fileno(), mode)
            if owner is not None:
                os.fchown(file.fileno(), *owner)
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
