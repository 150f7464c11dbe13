"""The QC flags of exported rows (`meso360ctl export --qc`): read from the days' sidecars (YYYYMMDD_qc.txt) and
matched to the rows by GPS time, in file order (a repeated second: its n-th row gets its n-th line)."""

import collections
import dataclasses

from meso360.datafile import read_complete_text
from meso360.export.variables import MEASUREMENTS
from meso360.qc.flags import FLAG_NAMES, MOTION_NAMES, NOT_CHECKED, VARIABLES, parse_line, worst
from meso360.qc.sidecar import sidecar_path, time_text


@dataclasses.dataclass(frozen=True)
class FlagVariable:
    """One exported flag column: its name, what it flags (the variables, for ancillary_variables), its CF standard
    name (None: none fits), long name, and its values with their meanings."""

    name: str
    flags: tuple
    standard_name: object
    long_name: str
    values: tuple
    meanings: tuple


_QUALITY = tuple(FLAG_NAMES)
_STANDARD_NAMES = {variable.column: variable.standard_name for variable in MEASUREMENTS}

# In the order of the flag values of each exported row: motion, GPS, then each checked variable.
FLAG_VARIABLES = (
    FlagVariable(
        "motion",
        (),
        None,
        "vehicle motion from GPS speed (not a quality flag)",
        tuple(MOTION_NAMES),
        tuple(MOTION_NAMES.values()),
    ),
    FlagVariable(
        "gps_qc",
        ("lat", "lon"),
        "status_flag",
        "QC flag of the GPS fix: the worst of fix, jump, time and frozen",
        _QUALITY,
        tuple(FLAG_NAMES.values()),
    ),
    *(
        FlagVariable(
            f"{name}_qc",
            (name,),
            f"{_STANDARD_NAMES[name]} status_flag",
            f"QC flag of {name}: the worst of range, step, persistence and consistency",
            _QUALITY,
            tuple(FLAG_NAMES.values()),
        )
        for name in VARIABLES
    ),
)
UNCHECKED = (NOT_CHECKED,) * len(FLAG_VARIABLES)


def sidecars_missing(paths):
    """Given daily files, return the days (YYYY-MM-DD) among them that have no QC sidecar."""
    missing = []
    for path in paths:
        if not sidecar_path(path).is_file():
            missing.append(f"{path.stem[:4]}-{path.stem[4:6]}-{path.stem[6:]}")
    return missing


def sidecar_flags(data_path):
    """Return {GPS time text: deque of the flag tuples of its rows, in file order} of a day's sidecar."""
    text, _ = read_complete_text(sidecar_path(data_path))
    by_time = collections.defaultdict(collections.deque)
    for line in text.splitlines():
        parsed = parse_line(line)
        if parsed is not None:
            _row, time, motion, gps, cells = parsed
            by_time[time].append((motion, worst(gps), *map(worst, cells)))
    return by_time


def with_qc(chunks):
    """Yield the chunks with `qc` set: one flag tuple per row (UNCHECKED for a row its sidecar does not cover yet)."""
    path = flags = None
    for chunk in chunks:
        if chunk.path != path:
            path, flags = chunk.path, sidecar_flags(chunk.path)
        chunk.qc = []
        for seconds in chunk.seconds:
            waiting = flags.get(time_text(seconds))
            chunk.qc.append(waiting.popleft() if waiting else UNCHECKED)
        yield chunk
