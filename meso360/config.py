"""Load and validate the INI configuration into frozen dataclasses, against the schema of config_schema.py."""

import configparser
import dataclasses
import os
from pathlib import Path

from meso360.config_schema import NOT_ECHOED, SCHEMA
from meso360.errors import ConfigError

DEFAULT_PATH = "/etc/meso360/meso360.conf"
ENV_VAR = "MESO360_CONFIG"


@dataclasses.dataclass(frozen=True)
class GeneralConfig:
    vehicle: str
    data_dir: Path
    support_dir: Path
    state_dir: Path
    institution: str


@dataclasses.dataclass(frozen=True)
class IngestConfig:
    logger_url: str
    obs_table: str
    support_table: str
    poll_interval: float
    request_timeout: float
    username: str
    password: str
    first_start: str


@dataclasses.dataclass(frozen=True)
class WebConfig:
    listen: tuple
    history_hours: int
    password_hash: str
    mdns_name: str


@dataclasses.dataclass(frozen=True)
class TunnelConfig:
    host: str
    port: int
    user: str
    key_file: Path
    known_hosts: Path
    remote_port: object
    remote_web_port: int
    local_port: int
    keepalive_interval: float
    keepalive_misses: int
    probe_interval: float
    connect_timeout: float
    retry_max_delay: float

    @property
    def configured(self):
        return bool(self.host)


@dataclasses.dataclass(frozen=True)
class AlarmsConfig:
    stale_s: float
    gps_lost_s: float
    tunnel_unverified_s: float
    disk_free_min_pct: float
    completeness_min_pct: float
    battery_min_v: float


@dataclasses.dataclass(frozen=True)
class QcConfig:
    temperature_min_c: float
    temperature_max_c: float
    dewpoint_min_c: float
    dewpoint_max_c: float
    pressure_min_hpa: float
    pressure_max_hpa: float
    wind_speed_max_ms: float
    temperature_step_c_per_s: float
    dewpoint_step_c_per_s: float
    humidity_step_pct_per_s: float
    pressure_step_hpa_per_s: float
    wind_speed_step_ms_per_s: float
    persistence_minutes: float
    rh_tolerance_pct: float
    dewpoint_excess_c: float
    max_vehicle_speed_ms: float
    moving_min_speed_ms: float


@dataclasses.dataclass(frozen=True)
class Config:
    path: str
    general: GeneralConfig
    ingest: IngestConfig
    web: WebConfig
    tunnel: TunnelConfig
    alarms: AlarmsConfig
    qc: QcConfig

    def section(self, name):
        """Given an INI section name ("meso360", "ingest", ...), return its values (GeneralConfig, ...)."""
        return getattr(self, _SECTION_ATTRS[name])


_SECTION_CLASSES = {
    "meso360": GeneralConfig,
    "ingest": IngestConfig,
    "web": WebConfig,
    "tunnel": TunnelConfig,
    "alarms": AlarmsConfig,
    "qc": QcConfig,
}
_SECTION_ATTRS = {
    "meso360": "general",
    "ingest": "ingest",
    "web": "web",
    "tunnel": "tunnel",
    "alarms": "alarms",
    "qc": "qc",
}


def resolve_path(path=None):
    """Return the config path: explicit `path` > $MESO360_CONFIG > /etc/meso360/meso360.conf."""
    return str(path or os.environ.get(ENV_VAR) or DEFAULT_PATH)


def read_ini(text, path):
    """Return a ConfigParser holding the INI `text` (no interpolation; # and ; start comments). Raise ConfigError."""
    parser = configparser.ConfigParser(interpolation=None, inline_comment_prefixes=("#", ";"))
    try:
        parser.read_string(text, source=path)
    except configparser.Error as error:
        raise ConfigError([f"{path}: not a valid INI file: {error}"]) from error
    return parser


def parse(text, path="<string>"):
    """Given the INI `text`, return a Config. Raise ConfigError listing every problem at once."""
    parser = read_ini(text, path)
    problems = []
    for section in parser.sections():
        if section not in SCHEMA:
            problems.append(f"{path}: [{section}]: unknown section (allowed: {', '.join(SCHEMA)})")
            continue
        for key in parser[section]:
            if key not in SCHEMA[section]:
                problems.append(f"{path}: {section}.{key}: unknown key (allowed: {', '.join(SCHEMA[section])})")

    sections = {}
    for section, keys in SCHEMA.items():
        values = {}
        for key, (default, parse_value, _help) in keys.items():
            raw = parser.get(section, key, fallback=default).strip()
            try:
                values[key] = parse_value(raw)
            except ValueError as error:
                shown = "(not shown)" if (section, key) in NOT_ECHOED else repr(raw)
                problems.append(f"{path}: {section}.{key} = {shown}: must be {error}")
        sections[_SECTION_ATTRS[section]] = values

    tunnel = sections["tunnel"]
    if tunnel.get("host"):
        for key in ("user", "remote_port"):
            if tunnel.get(key) in ("", None):
                problems.append(f"{path}: tunnel.{key} is empty: required when tunnel.host is set")
    if tunnel.get("remote_web_port") and tunnel.get("remote_web_port") == tunnel.get("remote_port"):
        problems.append(f"{path}: tunnel.remote_web_port must differ from tunnel.remote_port (two forwards)")
    qc = sections["qc"]
    for low, high in (("temperature_min_c", "temperature_max_c"), ("dewpoint_min_c", "dewpoint_max_c")):
        if isinstance(qc.get(low), float) and isinstance(qc.get(high), float) and qc[low] >= qc[high]:
            problems.append(f"{path}: qc.{low} must be below qc.{high}")
    if isinstance(qc.get("pressure_min_hpa"), float) and qc["pressure_min_hpa"] >= qc.get("pressure_max_hpa", 0.0):
        problems.append(f"{path}: qc.pressure_min_hpa must be below qc.pressure_max_hpa")

    if problems:
        raise ConfigError(problems)
    built = {attr: _SECTION_CLASSES[section](**sections[attr]) for section, attr in _SECTION_ATTRS.items()}
    return Config(path=path, **built)


def load(path=None):
    """Read and validate the config file at `path` (see resolve_path). Raise ConfigError."""
    path = resolve_path(path)
    return parse(read_text(path, "config file", f"--config or ${ENV_VAR}"), path)


def read_text(path, what, where_else):
    """Return the text of the config file `path`; raise ConfigError naming `what` it is and `where_else` to say."""
    try:
        with open(path, encoding="utf-8") as file:
            return file.read()
    except FileNotFoundError:
        raise ConfigError([f"{path}: {what} not found (set {where_else})"]) from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError([f"{path}: cannot read {what}: {error}"]) from error


def commented_keys(schema, examples=None):
    """Return the example lines of the keys of one schema section: its help as a comment, then `#key = value`."""
    lines = []
    for key, (default, _parse, help_text) in schema.items():
        lines += [f"# {help_text}", f"#{key} = {(examples or {}).get(key, default)}"]
    return lines


def example_text():
    """Return the commented example config: every key with its default."""
    lines = [
        "# meso360 configuration (/etc/meso360/meso360.conf).",
        "# Every key is shown with its default; uncomment and edit to change it.",
        "# Check your edits with: meso360ctl config validate",
    ]
    for section, keys in SCHEMA.items():
        lines += ["", f"[{section}]", *commented_keys(keys)]
    return "\n".join(lines) + "\n"
