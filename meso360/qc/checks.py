"""The per-row checks of one daily file, in file order: range, step, persistence and internal consistency per
variable (gps_checks.py: GPS validity and motion). A RowChecker starts fresh at the first row of a file.

In the spirit of the Oklahoma Mesonet QA (Shafer et al. 2000; Fiebrich & Crawford 2001) and the NSSL mobile-mesonet
QC (Straka, Rasmussen & Fredrickson 1996; Waugh & Fredrickson 2010), run on each row as it arrives, so a check only
looks back: a spike is flagged at its row, a stuck sensor from the moment it has been stuck long enough.
"""

import math

from meso360.datafile import number_or_none
from meso360.qc.flags import BAD, GOOD, NOT_CHECKED, SUSPECT, VARIABLE_CHECKS, VARIABLES, QcLine, unchecked_cell
from meso360.qc.gps_checks import GpsChecker
from meso360.qc.limits import variable_limits

# A step is judged against the last value that passed it, at most this long ago; after a longer gap it is not checked.
STEP_MAX_GAP_S = 60
# Magnus formula (Alduchov & Eskridge 1996 coefficients over water): saturation vapour pressure in hPa of degC.
MAGNUS_A, MAGNUS_B, MAGNUS_C = 6.1094, 17.625, 243.04


def saturation_hpa(celsius):
    """Given a temperature in degC, return the saturation vapour pressure over water in hPa (Magnus)."""
    return MAGNUS_A * math.exp(MAGNUS_B * celsius / (celsius + MAGNUS_C))


def relative_humidity(temperature_c, dewpoint_c):
    """Given T and Td in degC, return the relative humidity in percent, or None outside -60..70 degC."""
    if not (-60.0 < temperature_c < 70.0 and -60.0 < dewpoint_c < 70.0):
        return None
    return 100.0 * saturation_hpa(dewpoint_c) / saturation_hpa(temperature_c)


def range_flag(value, limits):
    """Given a value and its Limits, return BAD beyond the sensor's limits, SUSPECT beyond the climate's, else GOOD."""
    low, high = limits.sensor
    if not low <= value <= high:
        return BAD
    if limits.climate is not None and not limits.climate[0] <= value <= limits.climate[1]:
        return SUSPECT
    return GOOD


def _humidity_flag(humidity, temperature, dewpoint, tolerance):
    if None in (humidity, temperature, dewpoint):
        return NOT_CHECKED
    computed = relative_humidity(temperature, dewpoint)
    if computed is None:
        return NOT_CHECKED
    return SUSPECT if abs(computed - humidity) > tolerance else GOOD


def consistency_flags(values, qc):
    """Given {variable: value or None} of a row, return {variable: flag} of the internal-consistency checks:
    Td <= T (t_fast), rh_slow against the RH of t_slow and Td, der_rh against the RH of t_fast and Td."""
    dewpoint, t_fast = values["dewpoint"], values["t_fast"]
    flags = {}
    if dewpoint is not None and t_fast is not None:
        excess = dewpoint - t_fast
        flags["dewpoint"] = BAD if excess > qc.dewpoint_excess_c else SUSPECT if excess > 0 else GOOD
    tolerance = qc.rh_tolerance_pct
    flags["rh_slow"] = _humidity_flag(values["rh_slow"], values["t_slow"], dewpoint, tolerance)
    flags["der_rh"] = _humidity_flag(values["der_rh"], t_fast, dewpoint, tolerance)
    return flags


class Track:
    """What the step and persistence checks of one variable remember: the last value that passed the step check
    and its time, and the current run of one unchanged value with its start."""

    def __init__(self):
        self.reference = None  # (value, seconds)
        self.run_value = None
        self.run_start = None

    def step(self, value, seconds, limit_per_s, usable):
        """Return the step flag of `value` at `seconds`; a value that passes becomes the reference if `usable`."""
        flag = NOT_CHECKED
        if self.reference is not None:
            elapsed = seconds - self.reference[1]
            if 0 <= elapsed <= STEP_MAX_GAP_S:
                # a repeated second is a re-timed or repeated record, about a second after the previous one
                flag = SUSPECT if abs(value - self.reference[0]) > limit_per_s * max(elapsed, 1) else GOOD
        if flag != SUSPECT and usable:
            self.reference = (value, seconds)
        return flag

    def persistence(self, value, seconds, limit_s):
        """Return SUSPECT once `value` has been unchanged for `limit_s` seconds, else GOOD."""
        if value != self.run_value:
            self.run_value, self.run_start = value, seconds
        return SUSPECT if seconds - self.run_start >= limit_s else GOOD


class RowChecker:
    """Check the rows of one daily file in order; check() returns each row's QcLine."""

    def __init__(self, qc):
        self.qc = qc
        self.limits = variable_limits(qc)
        self.persistence_s = qc.persistence_minutes * 60.0
        self.tracks = {name: Track() for name in VARIABLES}
        self.gps = GpsChecker(qc)
        self.row = 0

    def check(self, seconds, row):
        """Given the next row's GPS time (epoch seconds or None) and its 17 columns (None: a malformed line),
        return its QcLine."""
        self.row += 1
        width = len(VARIABLE_CHECKS)
        if row is None:
            return QcLine(self.row, None, NOT_CHECKED, unchecked_cell(4), (unchecked_cell(width),) * len(VARIABLES))
        values = {name: number_or_none(row[spec.index], infinity_is_missing=True) for name, spec in self.limits.items()}
        consistency = consistency_flags(values, self.qc)
        cells = tuple(self._cell(name, values[name], seconds, consistency.get(name, NOT_CHECKED)) for name in VARIABLES)
        motion, gps = self.gps.check(seconds, row)
        return QcLine(self.row, seconds, motion, gps, cells)

    def _cell(self, name, value, seconds, consistency):
        if value is None:
            return unchecked_cell(len(VARIABLE_CHECKS))
        limits, track = self.limits[name], self.tracks[name]
        range_ = range_flag(value, limits)
        step = persistence = NOT_CHECKED
        if seconds is not None:
            if limits.step_per_s is not None:
                step = track.step(value, seconds, limits.step_per_s, usable=range_ != BAD)
            if limits.persistence:
                persistence = track.persistence(value, seconds, self.persistence_s)
        return f"{range_}{step}{persistence}{consistency}"
