"""What each checked variable may do: sensor limits (beyond them: bad), the configured climatological limits and
step rates (beyond them: suspect), and whether a stuck value is checked.

Sensor limits are the measuring ranges of the Mobile Mesonet's instruments (RM Young wind monitor and sonic, Vaisala
HMP/PTB family, KVH-type compass); the [qc] section of the config holds the climatological ones.
"""

import dataclasses

from meso360.datafile import OBS_COLUMNS
from meso360.qc.flags import VARIABLES


@dataclasses.dataclass(frozen=True)
class Limits:
    """One variable's checks: its data-file column index, sensor (low, high), climate (low, high) or None,
    step per second or None (not checked: directions wrap and turn fast), and whether persistence is checked."""

    index: int
    sensor: tuple
    climate: object
    step_per_s: object
    persistence: bool = True


SENSOR_LIMITS = {
    "sfc_wspd": (0.0, 75.0),
    "sfc_wdir": (0.0, 360.0),
    "t_slow": (-50.0, 60.0),
    "rh_slow": (0.0, 103.0),  # the humidity sensor's accuracy lets a saturated reading pass 100 a little
    "t_fast": (-50.0, 60.0),
    "dewpoint": (-60.0, 45.0),
    "der_rh": (0.0, 103.0),
    "pressure": (500.0, 1100.0),
    "compass_dir": (0.0, 360.0),
}


def variable_limits(qc):
    """Given the [qc] config (QcConfig), return {variable: Limits} for every checked variable."""
    temperature = (qc.temperature_min_c, qc.temperature_max_c)
    climate = {
        "sfc_wspd": (0.0, qc.wind_speed_max_ms),
        "t_slow": temperature,
        "rh_slow": (0.0, 100.0),
        "t_fast": temperature,
        "dewpoint": (qc.dewpoint_min_c, qc.dewpoint_max_c),
        "der_rh": (0.0, 100.0),
        "pressure": (qc.pressure_min_hpa, qc.pressure_max_hpa),
    }
    step = {
        "sfc_wspd": qc.wind_speed_step_ms_per_s,
        "t_slow": qc.temperature_step_c_per_s,
        "rh_slow": qc.humidity_step_pct_per_s,
        "t_fast": qc.temperature_step_c_per_s,
        "dewpoint": qc.dewpoint_step_c_per_s,
        "der_rh": qc.humidity_step_pct_per_s,
        "pressure": qc.pressure_step_hpa_per_s,
    }
    return {
        name: Limits(OBS_COLUMNS.index(name), SENSOR_LIMITS[name], climate.get(name), step.get(name))
        for name in VARIABLES
    }
