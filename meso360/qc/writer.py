"""The ingest daemon's QC thread: keeps the sidecars of the newest daily files up to date, never in the way of
collection (its own thread; an unexpected error is logged once and QC stops until the next start, which resumes
from the sidecars)."""

import logging

from meso360.datafile import daily_files
from meso360.qc.sidecar import QcStream

log = logging.getLogger(__name__)

QC_INTERVAL_S = 2.0  # the sidecar follows the data file within about this long
NEWEST_FILES = 2  # the day just ended can still get rows (a no-fix row goes to the host-date file)


class QcWriter:
    """QcStreams of the newest daily files of data_dir; step() brings their sidecars up to date."""

    def __init__(self, data_dir, qc):
        self.data_dir = data_dir
        self.qc = qc
        self.streams = {}

    def step(self):
        """Append the QC lines of the rows written since the last step; return how many."""
        newest = daily_files(self.data_dir)[-NEWEST_FILES:]
        self.streams = {path: self.streams.get(path) or QcStream(path, self.qc) for path in newest}
        return sum(stream.update() for stream in self.streams.values())


def run_qc(config, stop_event, interval_s=QC_INTERVAL_S):
    """Keep the newest sidecars up to date until stop_event is set."""
    writer = QcWriter(config.general.data_dir, config.qc)
    disk_error = None
    while not stop_event.is_set():
        try:
            writer.step()
            disk_error = None
        except OSError as error:
            # a full or read-only disk: said once, retried; the streams resume from the sidecars
            if str(error) != disk_error:
                log.warning("QC: cannot write the QC flags (%s); retrying, collection continues", error)
            disk_error, writer.streams = str(error), {}
        except Exception:
            # QC must never stop collection: log the error once; the next start resumes from the sidecars.
            log.exception("QC: unexpected error; QC flags stop until meso360-ingest restarts, collection continues")
            return
        stop_event.wait(interval_s)
