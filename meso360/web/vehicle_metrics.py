"""The /metrics lines base needs per vehicle: identity, newest observation, today's file and the tunnel.

Written by hand in the Prometheus text format 0.0.4, like the rest of /metrics (README "Web API", the /metrics line):
every value is read at scrape time from what the daemon already holds, so a metric is a HELP line, a
TYPE line and one f-string; a missing value leaves its sample out (never NaN).
"""

import math
import threading
import time

import meso360
from meso360.systemd_units import epoch_of_utc_iso, read_tunnel_state

# Point key -> (metric name, HELP text), in the order /metrics lists them. Units as in the data file.
OBSERVATION_GAUGES = (
    ("t", "meso360_obs_temperature_celsius", "Air temperature (t_fast) of the newest row."),
    ("td", "meso360_obs_dewpoint_celsius", "Dewpoint of the newest row."),
    ("pressure", "meso360_obs_pressure_hectopascals", "Station pressure of the newest row."),
    ("wspd", "meso360_obs_wind_speed_meters_per_second", "Surface wind speed of the newest row."),
    ("wdir", "meso360_obs_wind_direction_degrees", "Surface wind direction (from, true) of the newest row."),
    ("lat", "meso360_obs_latitude_degrees", "GPS latitude of the newest row."),
    ("lon", "meso360_obs_longitude_degrees", "GPS longitude of the newest row."),
    ("compass_dir", "meso360_obs_heading_degrees", "Vehicle heading (compass) of the newest row."),
)
STAT_INTERVAL_S = 1.0  # the newest file is stat-ed at most this often, however often /metrics is scraped


def gauge(name, help_text, value, labels=""):
    """Return the HELP, TYPE and sample lines of one gauge; without a sample when `value` is None or not finite."""
    return [f"# HELP {name} {help_text}", f"# TYPE {name} gauge"] + _sample(name, value, labels)


def _sample(name, value, labels=""):
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return []
    return [f"{name}{labels} {value!r}" if isinstance(value, float) else f"{name}{labels} {int(value)}"]


def label_value(text):
    """Given a label value, return it escaped for the text format (backslash, double quote, newline)."""
    return str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class FileSize:
    """The size of the newest daily file, stat-ed at most once per STAT_INTERVAL_S (scrapes may come often)."""

    def __init__(self, clock=time.monotonic):
        self._clock = clock
        self._lock = threading.Lock()
        self._path = None
        self._size = None
        self._checked = -math.inf

    def size_bytes(self, path):
        """Given the newest file's path (or None), return its size in bytes, or None if there is none."""
        with self._lock:
            now = self._clock()
            if path != self._path or now - self._checked >= STAT_INTERVAL_S:
                try:
                    self._size = None if path is None else path.stat().st_size
                except OSError:
                    self._size = None  # rotated away or unreadable: no sample this time
                self._path, self._checked = path, now
            return self._size


def identity_metrics(config):
    """Return the meso360_info lines: the vehicle name and the version, as labels of a gauge always 1."""
    labels = f'{{vehicle="{label_value(config.general.vehicle)}",version="{label_value(meso360.__version__)}"}}'
    return gauge("meso360_info", "The vehicle's name and the meso360 version (always 1).", 1, labels)


def observation_metrics(point):
    """Given the newest point (points.Point.as_dict) or None, return its gauges; a missing value has no sample."""
    point = point or {}
    lines = gauge(
        "meso360_obs_timestamp_seconds",
        "Time of the newest row: its GPS time, or its arrival for a row without fix (epoch seconds).",
        point.get("ts"),
    )
    for key, name, help_text in OBSERVATION_GAUGES:
        value = point.get(key)
        lines += gauge(name, help_text, None if value is None else float(value))
    return lines


def today_file_metrics(reader, file_size):
    """Return the rows (DayTally) and the size in bytes of the newest daily file, the one the tally counts."""
    tally = reader.tally
    newest = max(reader.offsets, default=None)
    return gauge(
        "meso360_today_file_rows",
        "Rows in the newest daily file (today's).",
        None if tally is None else tally.report.rows,
    ) + gauge("meso360_today_file_size_bytes", "Size of the newest daily file (today's).", file_size.size_bytes(newest))


def tunnel_metrics(config):
    """Return the tunnel's gauges from tunnel.json (meso360-tunnel writes it on every change of state)."""
    state = read_tunnel_state(str(config.general.state_dir)) or {}
    reconnects = state.get("reconnects")
    lines = gauge("meso360_tunnel_configured", "1 when [tunnel] host is set.", int(config.tunnel.configured))
    lines += gauge("meso360_tunnel_up", "1 while tunnel.json says the tunnel is up.", int(state.get("state") == "up"))
    lines += gauge(
        "meso360_tunnel_last_verified_timestamp_seconds",
        "When the tunnel last proved the bastion reaches the vehicle's sshd (epoch seconds).",
        epoch_of_utc_iso(state.get("verified_at")),
    )
    web = state.get("web_forward") or {}
    web_on = web.get("state", "off") != "off"
    lines += gauge(
        "meso360_tunnel_web_forward_verified",
        "1 while the bastion's web port answers GET /healthz through the tunnel, 0 when not; no sample when off.",
        int(web.get("state") == "verified" and state.get("state") == "up") if web_on else None,
    )
    lines += gauge(
        "meso360_tunnel_web_forward_last_verified_timestamp_seconds",
        "When GET /healthz last answered 200 through the bastion's web port (epoch seconds).",
        epoch_of_utc_iso(web.get("verified_at")) if web_on else None,
    )
    return lines + [
        "# HELP meso360_tunnel_reconnects_total Reconnections since meso360-tunnel started.",
        "# TYPE meso360_tunnel_reconnects_total counter",
        *_sample("meso360_tunnel_reconnects_total", reconnects if isinstance(reconnects, int) else None),
    ]


def today_qc_counts(reader, qc_tally):
    """Return the QcCounts of the newest daily file's QC sidecar (YYYYMMDD_qc.txt), or None without one."""
    from meso360.qc.sidecar import sidecar_path

    newest = max(reader.offsets, default=None)
    return None if newest is None else qc_tally.counts(sidecar_path(newest))


def qc_summary(counts):
    """Given today's QcCounts (or None), return the /api/status "qc" object: rows checked, suspect, bad."""
    if counts is None:
        return None
    return {"rows": counts.rows, "suspect": counts.suspect_rows, "bad": counts.bad_rows}


def qc_metrics(counts):
    """Return today's QC gauges: rows checked and flagged, and the flags per check, variable and level."""
    from meso360.qc.flags import GPS_CHECKS, VARIABLE_CHECKS, VARIABLES

    if counts is None:
        return gauge("meso360_qc_rows_today", "Rows of the newest daily file checked by QC.", None)
    lines = gauge("meso360_qc_rows_today", "Rows of the newest daily file checked by QC.", counts.rows)
    lines += [
        "# HELP meso360_qc_flagged_rows_today Rows of the newest daily file whose worst QC flag is this level.",
        "# TYPE meso360_qc_flagged_rows_today gauge",
        f'meso360_qc_flagged_rows_today{{level="suspect"}} {counts.suspect_rows}',
        f'meso360_qc_flagged_rows_today{{level="bad"}} {counts.bad_rows}',
        "# HELP meso360_qc_flags_today QC flags of the newest daily file per check, variable and level (README).",
        "# TYPE meso360_qc_flags_today gauge",
    ]
    pairs = [(check, "gps") for check in GPS_CHECKS]
    pairs += [(check, variable) for variable in VARIABLES for check in VARIABLE_CHECKS]
    for check, variable in pairs:
        for level in ("suspect", "bad"):
            labels = f'{{check="{check}",variable="{variable}",level="{level}"}}'
            lines.append(f"meso360_qc_flags_today{labels} {counts.flags[(check, variable, level)]}")
    return lines
