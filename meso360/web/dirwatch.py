"""Wait for writes in a directory with Linux inotify (through ctypes), so the data reader sleeps between rows."""

import ctypes
import ctypes.util
import errno
import logging
import os
import select

log = logging.getLogger(__name__)

_IN_MODIFY = 0x002
_IN_CLOSE_WRITE = 0x008
_IN_MOVED_TO = 0x080
_IN_CREATE = 0x100
_IN_NONBLOCK = 0o4000
_IN_CLOEXEC = 0o2000000
_EVENTS = _IN_MODIFY | _IN_CLOSE_WRITE | _IN_MOVED_TO | _IN_CREATE


class DirectoryWatch:
    """An inotify descriptor watching one directory for files written, created or moved in."""

    def __init__(self, fd):
        self._fd = fd

    @classmethod
    def open(cls, directory):
        """Return a DirectoryWatch of `directory`, or None when inotify is not available (then poll)."""
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
            fd = libc.inotify_init1(_IN_NONBLOCK | _IN_CLOEXEC)
        except (OSError, AttributeError) as error:
            log.info("no inotify (%s); polling %s", error, directory)
            return None
        if fd < 0:
            log.info("inotify_init1: %s; polling %s", os.strerror(ctypes.get_errno()), directory)
            return None
        if libc.inotify_add_watch(fd, os.fsencode(directory), _EVENTS) < 0:
            log.info("cannot watch %s (%s); polling it", directory, os.strerror(ctypes.get_errno()))
            os.close(fd)
            return None
        return cls(fd)

    def wait(self, timeout_s):
        """Return True after something was written in the directory, False when `timeout_s` passed first."""
        ready, _, _ = select.select([self._fd], [], [], timeout_s)
        if not ready:
            return False
        try:
            while os.read(self._fd, 4096):  # drain: one wake-up for however many writes
                pass
        except OSError as error:
            if error.errno != errno.EAGAIN:
                raise
        return True

    def close(self):
        os.close(self._fd)
