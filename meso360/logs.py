"""Logging setup: stderr lines with sd-daemon <N> priority prefixes for journald."""

import logging
import os
import sys

NOTICE = 25  # syslog's notice (5), between INFO and WARNING: e.g. an alarm that ended
_SYSLOG_PRIORITY = {
    logging.CRITICAL: 2,
    logging.ERROR: 3,
    logging.WARNING: 4,
    NOTICE: 5,
    logging.INFO: 6,
    logging.DEBUG: 7,
}


class _JournalPrefixFormatter(logging.Formatter):
    """Prefix each line with <N> so journald records the priority (sd-daemon(3))."""

    def format(self, record):
        text = super().format(record)
        priority = _SYSLOG_PRIORITY.get(record.levelno, 6)
        return "\n".join(f"<{priority}>{line}" for line in text.splitlines())


def under_journal():
    """Return True when stderr is connected to journald (systemd sets JOURNAL_STREAM)."""
    stream = os.environ.get("JOURNAL_STREAM")
    if not stream:
        return False
    try:
        device, inode = (int(part) for part in stream.split(":"))
        stat = os.fstat(sys.stderr.fileno())
    except (ValueError, OSError):
        return False
    return (stat.st_dev, stat.st_ino) == (device, inode)


def setup_logging(name, verbose=False):
    """Configure the root logger for daemon `name`; return its logger."""
    logging.addLevelName(NOTICE, "NOTICE")
    handler = logging.StreamHandler(sys.stderr)
    if under_journal():
        handler.setFormatter(_JournalPrefixFormatter("%(message)s"))
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%Y-%m-%dT%H:%M:%S")
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    # urllib3 logs every retry and connection at INFO/WARNING; ingest reports outages itself.
    logging.getLogger("urllib3").setLevel(logging.ERROR)
    logging.getLogger("paramiko").setLevel(logging.WARNING)
    return logging.getLogger(name)
