"""The config schema: every section and key with its default, value parser and help text (it validates and documents).

config.py loads a file against it into frozen dataclasses and writes it out as meso360.conf.example (example_text).
"""

import dataclasses

from meso360.config_values import (
    absolute_path,
    free_text,
    listen_address,
    mdns_name,
    name_without_spaces,
    number_between,
    one_of,
    password_hash,
    port_or_off,
    seconds_between,
    table_name,
    url,
    whole_number_between,
)


def _qc_limit(default, low, high, unit, text):
    """A [qc] threshold: its default, a number from `low` to `high` in `unit`, its help text."""
    return (default, number_between(low, high, unit), text)


# --- timeouts and the units' watchdogs ---


@dataclasses.dataclass(frozen=True)
class WatchdogBudget:
    """How long a daemon may legitimately wait between two WATCHDOG=1: at most `timeouts_between_pings` of its
    timeout in a row, plus `margin_seconds` of work, within the unit's WatchdogSec= (tests/unit/test_timeout_ranges.py
    checks the numbers against units/*.service)."""

    unit: str
    watchdog_seconds: int
    timeouts_between_pings: int
    margin_seconds: int
    max_timeout_seconds: float

    def why(self, what):
        return (
            f"{self.unit} has WatchdogSec={self.watchdog_seconds}: {what} take up to"
            f" {self.timeouts_between_pings} times this timeout between two watchdog pings,"
            " so a larger one would let systemd kill a healthy daemon"
        )


# One failing request to the logger: a TCP connect to each of up to two addresses (IPv4, IPv6), then the read.
INGEST_WATCHDOG = WatchdogBudget("meso360-ingest.service", 30, 3, 6, 8.0)
# One SSH session set-up: a TCP connect to each of up to two addresses, the banner, the key exchange and the
# authentication (paramiko), then the forward request; the daemon pings once the session is open, and again after
# each probe (channel open, then banner read: 2 timeouts).
TUNNEL_WATCHDOG = WatchdogBudget("meso360-tunnel.service", 120, 6, 30, 15.0)


# A bad value of these is not repeated in the error (a password typed in place of its hash, say).
NOT_ECHOED = {("web", "password_hash")}


# --- the schema: section -> key -> (default, parser, help). It validates and documents. ---

SCHEMA = {
    "meso360": {
        "vehicle": ("MM1", free_text, "Vehicle name shown on the dashboard."),
        "data_dir": ("/var/lib/meso360/data", absolute_path, "Daily observation files YYYYMMDD.txt."),
        "support_dir": ("/var/lib/meso360/support", absolute_path, "Daily Support files YYYYMMDD_support.txt."),
        "state_dir": ("/var/lib/meso360/state", absolute_path, "Ingest resume state (last record written)."),
        "institution": (
            "NOAA/OAR National Severe Storms Laboratory",
            free_text,
            "Institution named in exported files (meso360ctl export: the NetCDF and JSON institution attribute).",
        ),
    },
    "ingest": {
        "logger_url": (
            "http://192.168.4.6",
            url,
            "Campbell logger web server, scheme://host[:port][/prefix]. The vehicle's logger;"
            " point at http://127.0.0.1:8081 to use the simulator (meso360-sim).",
        ),
        "obs_table": ("Obs", table_name, "Logger table with the 1 Hz observations (19 fields)."),
        "support_table": ("Support", table_name, "Logger Support table (9 fields); empty: not collected."),
        "poll_interval": ("1.0", seconds_between(0.1, 60.0), "Seconds between polls of the logger."),
        "request_timeout": (
            "5.0",
            seconds_between(0.5, INGEST_WATCHDOG.max_timeout_seconds, INGEST_WATCHDOG.why("a failing poll may")),
            "Seconds before an HTTP request to the logger fails (connect, then each read).",
        ),
        "username": (
            "",
            name_without_spaces("a user name"),
            "HTTP Basic user for the logger; empty: no authentication.",
        ),
        "password": ("", free_text, "HTTP Basic password for the logger."),
        "first_start": (
            "today",
            one_of("newest", "today", "all"),
            "Where the very first start (no state, no data files) begins: newest (the newest record), today"
            " (every record of the current UTC day the logger holds) or all (everything it holds).",
        ),
    },
    "web": {
        "listen": ("0.0.0.0:8080", listen_address, "Address and port of the dashboard and control panel."),
        "history_hours": (
            "2",
            whole_number_between(1, 48),
            "Hours of observations kept in memory for the live charts.",
        ),
        "password_hash": (
            "",
            password_hash,
            "Operator password hash for control actions, set by `meso360ctl passwd`; empty: read-only panel.",
        ),
        "mdns_name": (
            "",
            mdns_name,
            "Name the panel is announced under on the vehicle LAN (avahi, DNS-SD _http._tcp, with the port of"
            " listen), as legacy's mdns_hostname; empty: meso360 on <host name>. Applied when meso360-web starts.",
        ),
    },
    "tunnel": {
        "host": (
            "",
            name_without_spaces("a host name or IP address"),
            "Bastion host for the reverse SSH tunnel; empty: tunnel not configured.",
        ),
        "port": ("22", whole_number_between(1, 65535), "SSH port of the bastion."),
        "user": ("", name_without_spaces("a user name"), "User on the bastion."),
        "key_file": ("/etc/meso360/tunnel_key", absolute_path, "Private key (must not be group/world readable)."),
        "known_hosts": ("/etc/meso360/known_hosts", absolute_path, "Pinned host key of the bastion."),
        "remote_port": (
            "",
            whole_number_between(1, 65535, optional=True),
            "Port opened on the bastion, forwarded to local_port.",
        ),
        "remote_web_port": (
            "0",
            port_or_off(1024, 65535),
            "Second port opened on the bastion (not remote_port), forwarded to the web daemon ([web] listen),"
            " for base's dashboard link and /metrics; 0: no web forward.",
        ),
        "local_port": (
            "22",
            whole_number_between(1, 65535),
            "Port on the vehicle reached through the tunnel (its sshd).",
        ),
        "keepalive_interval": ("15", seconds_between(1.0, 600.0), "Seconds between keepalive requests."),
        "keepalive_misses": (
            "3",
            whole_number_between(1, 100),
            "Unanswered keepalives before the link is declared dead.",
        ),
        "probe_interval": ("60", seconds_between(5.0, 3600.0), "Seconds between end-to-end probes of the forward."),
        "connect_timeout": (
            "15",
            seconds_between(1.0, TUNNEL_WATCHDOG.max_timeout_seconds, TUNNEL_WATCHDOG.why("the connection steps")),
            "Seconds allowed for each step: TCP connect, SSH banner, authentication, forward request, probe.",
        ),
        "retry_max_delay": ("60", seconds_between(1.0, 3600.0), "Longest wait between reconnect attempts (seconds)."),
    },
    # Thresholds of the alarms (meso360/alarms.py): the banner, /api/alarms, /metrics and meso360ctl status.
    "alarms": {
        "stale_s": ("30", seconds_between(5.0, 3600.0), "Alarm when no new row was written for this many seconds."),
        "gps_lost_s": (
            "60",
            seconds_between(5.0, 3600.0),
            "Alarm when the newest rows have had no GPS fix for more than this many seconds.",
        ),
        "tunnel_unverified_s": (
            "300",
            seconds_between(60.0, 86400.0),
            "Alarm when a configured tunnel has not been verified end to end for this many seconds"
            " (never less than two tunnel.probe_interval).",
        ),
        "disk_free_min_pct": (
            "10",
            number_between(0.0, 90.0, "percent; 0: no alarm"),
            "Alarm when the data disk has less free space than this (percent).",
        ),
        "completeness_min_pct": (
            "95",
            number_between(0.0, 100.0, "percent; 0: no alarm"),
            "Alarm when the last 10 minutes of data hold fewer of their seconds than this (percent).",
        ),
        "battery_min_v": (
            "11.8",
            number_between(0.0, 16.0, "volts; 0: no alarm"),
            "Alarm when the logger's battery voltage (BattV) is under this (volts); a 12 V lead-acid battery"
            " at 11.8 V is nearly flat.",
        ),
    },
    # Thresholds of the real-time quality control (meso360/qc/, README "Quality control"). The sensor limits (flag 2)
    # are fixed in meso360/qc/limits.py; these climatological limits and rates flag a value suspect (1).
    "qc": {
        "temperature_min_c": _qc_limit("-30", -60.0, 60.0, "degC", "Lowest plausible air temperature."),
        "temperature_max_c": _qc_limit("48", -60.0, 60.0, "degC", "Highest plausible air temperature."),
        "dewpoint_min_c": _qc_limit("-35", -70.0, 50.0, "degC", "Lowest plausible dew point."),
        "dewpoint_max_c": _qc_limit("32", -70.0, 50.0, "degC", "Highest plausible dew point."),
        "pressure_min_hpa": _qc_limit("600", 500.0, 1100.0, "hPa", "Lowest plausible station pressure."),
        "pressure_max_hpa": _qc_limit("1060", 500.0, 1100.0, "hPa", "Highest plausible station pressure."),
        "wind_speed_max_ms": _qc_limit("50", 1.0, 100.0, "m/s", "Highest plausible wind speed."),
        "temperature_step_c_per_s": _qc_limit(
            "5", 0.1, 50.0, "degC per second", "Largest plausible change of t_fast and t_slow per second (step check)."
        ),
        "dewpoint_step_c_per_s": _qc_limit("3", 0.1, 50.0, "degC per second", "Step limit of dewpoint."),
        "humidity_step_pct_per_s": _qc_limit(
            "20", 0.5, 100.0, "percent per second", "Step limit of rh_slow and der_rh."
        ),
        "pressure_step_hpa_per_s": _qc_limit("5", 0.1, 100.0, "hPa per second", "Step limit of pressure."),
        "wind_speed_step_ms_per_s": _qc_limit("20", 0.5, 100.0, "m/s per second", "Step limit of sfc_wspd."),
        "persistence_minutes": _qc_limit(
            "15", 1.0, 1440.0, "minutes", "A value unchanged for this long is suspect (a stuck sensor)."
        ),
        "rh_tolerance_pct": _qc_limit(
            "5",
            0.5,
            50.0,
            "percent",
            "Largest difference between rh_slow and the RH computed from t_slow and dewpoint (and between der_rh"
            " and the RH from t_fast and dewpoint).",
        ),
        "dewpoint_excess_c": _qc_limit(
            "1", 0.0, 20.0, "degC", "A dew point above t_fast is suspect; above it by more than this, bad."
        ),
        "max_vehicle_speed_ms": _qc_limit(
            "60", 10.0, 350.0, "m/s", "Fastest the vehicle can go: a GPS position jump implying more is bad."
        ),
        "moving_min_speed_ms": _qc_limit(
            "1", 0.1, 20.0, "m/s", "GPS speed from which the vehicle counts as moving (the motion flag)."
        ),
    },
}
