"""GPS validity and the motion flag of each row: fix, position jumps beyond the vehicle's speed, repeated or re-timed
GPS seconds, and a frozen receiver (every GPS value repeated while moving, as in the rows ingest re-times)."""

import math

from meso360.datafile import OBS_COLUMNS, number_or_none
from meso360.qc.flags import BAD, GOOD, MOVING, NOT_CHECKED, STATIONARY, SUSPECT

EARTH_RADIUS_M = 6371000.0
_LAT, _LON, _SPEED = OBS_COLUMNS.index("lat"), OBS_COLUMNS.index("lon"), OBS_COLUMNS.index("gps_spd")
# The GPS receiver's own values: all repeated while the vehicle moves means the receiver stopped updating.
_GPS_VALUES = slice(OBS_COLUMNS.index("lat"), OBS_COLUMNS.index("gps_dir") + 1)


def distance_m(lat1, lon1, lat2, lon2):
    """Return the distance in metres between two positions (equirectangular: exact enough over seconds)."""
    mean_lat = math.radians((lat1 + lat2) / 2.0)
    dx = math.radians(lon2 - lon1) * math.cos(mean_lat)
    dy = math.radians(lat2 - lat1)
    return EARTH_RADIUS_M * math.hypot(dx, dy)


def has_fix(seconds, lat, lon):
    """Return whether a row has a GPS time and a position on Earth (0, 0 is a receiver's empty answer)."""
    if seconds is None or lat is None or lon is None:
        return False
    return -90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0 and (lat, lon) != (0.0, 0.0)


class GpsChecker:
    """The GPS checks of one file's rows, in order: check() returns (motion flag, GPS cell fix-jump-time-frozen)."""

    def __init__(self, qc):
        self.max_speed_ms = qc.max_vehicle_speed_ms
        self.moving_min_ms = qc.moving_min_speed_ms
        self.previous = None  # (seconds, GPS values) of the previous row with a fix
        self.position = None  # (seconds, lat, lon) of the last position that passed the jump check

    def motion(self, seconds, speed):
        if seconds is None or speed is None:
            return NOT_CHECKED
        return MOVING if speed >= self.moving_min_ms else STATIONARY

    def check(self, seconds, row):
        """Given a row's GPS time (or None) and its 17 columns, return (motion flag, GPS cell)."""
        lat = number_or_none(row[_LAT], infinity_is_missing=True)
        lon = number_or_none(row[_LON], infinity_is_missing=True)
        speed = number_or_none(row[_SPEED], infinity_is_missing=True)
        motion = self.motion(seconds, speed)
        if not has_fix(seconds, lat, lon):
            return motion, f"{BAD}{NOT_CHECKED}{NOT_CHECKED}{NOT_CHECKED}"
        values = row[_GPS_VALUES]
        time = jump = frozen = NOT_CHECKED
        if self.previous is not None:
            time = SUSPECT if seconds <= self.previous[0] else GOOD
            frozen = SUSPECT if values == self.previous[1] and motion == MOVING else GOOD
        if self.position is not None:
            jump = self._jump(seconds, lat, lon)
        if jump != BAD:
            self.position = (seconds, lat, lon)
        self.previous = (seconds, values)
        return motion, f"{GOOD}{jump}{time}{frozen}"

    def _jump(self, seconds, lat, lon):
        elapsed = seconds - self.position[0]
        if elapsed <= 0:
            return NOT_CHECKED
        speed = distance_m(self.position[1], self.position[2], lat, lon) / elapsed
        return BAD if speed > self.max_speed_ms else GOOD
