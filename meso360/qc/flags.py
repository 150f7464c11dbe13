"""The QC vocabulary: flag values, the checked variables, the checks, and the sidecar's header and line format."""

import dataclasses

GOOD, SUSPECT, BAD, NOT_CHECKED = 0, 1, 2, 9
FLAG_NAMES = {GOOD: "good", SUSPECT: "suspect", BAD: "bad", NOT_CHECKED: "not_checked"}

# The variables checked, each with a cell of one digit per check in VARIABLE_CHECKS order ("0090": step not checked).
VARIABLES = (
    "sfc_wspd",
    "sfc_wdir",
    "t_slow",
    "rh_slow",
    "t_fast",
    "dewpoint",
    "der_rh",
    "pressure",
    "compass_dir",
)
VARIABLE_CHECKS = ("range", "step", "persistence", "consistency")
# The GPS cell: fix (valid time and position), jump (implied speed), time (not after the previous row's: a repeated
# or re-timed second), frozen (every GPS value repeated while moving: the receiver stopped updating).
GPS_CHECKS = ("fix", "jump", "time", "frozen")
# The motion cell: not a quality flag but the vehicle's state, since moving and stationary wind behave differently.
STATIONARY, MOVING = 0, 1
MOTION_NAMES = {STATIONARY: "stationary", MOVING: "moving", NOT_CHECKED: "unknown"}

FORMAT_VERSION = 1
VERSION_LINE = f"# meso360-qc {FORMAT_VERSION}"
COLUMNS = ("row", "gps_time", "motion", "gps", *VARIABLES)
HEADER = VERSION_LINE + "\n" + ",".join(COLUMNS) + "\n"
HEADER_LINE_COUNT = 2


@dataclasses.dataclass(frozen=True)
class QcLine:
    """The flags of one data row: its row number (1: the first row after the data file's header), its GPS time
    (epoch seconds, None without one), the motion flag, and a cell of digits per GPS and per variable."""

    row: int
    seconds: object
    motion: int
    gps: str
    cells: tuple

    def text(self, time_text):
        """Return the sidecar line (without newline), the GPS time written as `time_text`."""
        return ",".join((str(self.row), time_text, str(self.motion), self.gps, *self.cells))


def worst(cell):
    """Given a cell of flag digits, return its overall flag: the worst of 0/1/2 checked, 9 when none was checked."""
    checked = [int(digit) for digit in cell if digit != "9"]
    return max(checked) if checked else NOT_CHECKED


def parse_line(line):
    """Given a sidecar line, return (row, gps_time text, motion, gps cell, variable cells), or None if not a row."""
    fields = line.rstrip("\n").split(",")
    if len(fields) != len(COLUMNS) or not fields[0].isdecimal():
        return None
    return int(fields[0]), fields[1], int(fields[2]), fields[3], tuple(fields[4:])


def unchecked_cell(width):
    """Return a cell of `width` checks none of which ran."""
    return str(NOT_CHECKED) * width
