"""What each data-file column is, in CF terms: the exported variables, their standard names and units.

One table for the JSON and NetCDF exports. Units are those of the logger program (LEGACY.md section 1.4), written
as UDUNITS strings; standard names are from the CF standard name table. gps_date and gps_time become `time`.
"""

import dataclasses

from meso360.datafile import OBS_COLUMNS


@dataclasses.dataclass(frozen=True)
class Variable:
    """One exported column: its data-file name, CF standard name (None: none fits), UDUNITS units, long name."""

    column: str
    standard_name: object
    units: str
    long_name: str

    @property
    def index(self):
        """The column's index in a data-file row."""
        return OBS_COLUMNS.index(self.column)


TIME_UNITS = "seconds since 1970-01-01 00:00:00 UTC"

# The coordinates: position of the vehicle (GPS), altitude above mean sea level.
LATITUDE = Variable("lat", "latitude", "degrees_north", "GPS latitude")
LONGITUDE = Variable("lon", "longitude", "degrees_east", "GPS longitude")
ALTITUDE = Variable("gps_alt", "altitude", "m", "GPS altitude above mean sea level")

MEASUREMENTS = (
    Variable("sfc_wspd", "wind_speed", "m s-1", "wind speed (RM Young sonic)"),
    Variable("sfc_wdir", "wind_from_direction", "degree", "wind direction, from which the wind blows"),
    Variable("t_slow", "air_temperature", "degC", "air temperature, slow-response sensor"),
    Variable("rh_slow", "relative_humidity", "percent", "relative humidity, slow-response sensor"),
    Variable("t_fast", "air_temperature", "degC", "air temperature, fast-response sensor"),
    Variable("dewpoint", "dew_point_temperature", "degC", "dew point temperature"),
    Variable("der_rh", "relative_humidity", "percent", "relative humidity derived from temperature and dew point"),
    Variable("pressure", "air_pressure", "hPa", "station pressure"),
    Variable("compass_dir", "platform_orientation", "degree", "vehicle heading (compass)"),
    Variable("gps_spd", "platform_speed_wrt_ground", "m s-1", "vehicle speed over ground (GPS)"),
    Variable("gps_dir", "platform_course", "degree", "vehicle course over ground (GPS track)"),
    # The logger's own enclosure temperature, a diagnostic: CF has no standard name for it.
    Variable("panel_temp", None, "degC", "datalogger panel temperature (diagnostic)"),
)

# Every exported variable after time, in the order of the JSON rows.
EXPORTED = (LATITUDE, LONGITUDE, ALTITUDE, *MEASUREMENTS)


@dataclasses.dataclass(frozen=True)
class ExportInfo:
    """What an export file says about itself: the vehicle, the institution, the range asked, the command."""

    vehicle: str
    institution: str
    time_range: object
    command: str
    qc: bool = False  # the QC flag variables are added (export/qc_flags.py)
