"""Load and validate the INI configuration into frozen dataclasses; one schema documents every key."""

import configparser
import dataclasses
import ipaddress
import os
import urllib.parse
from pathlib import Path

from meso360.errors import ConfigError

DEFAULT_PATH = "/etc/meso360/meso360.conf"
ENV_VAR = "MESO360_CONFIG"


# --- value parsers: each returns the parsed value or raises ValueError("what is allowed") ---


def _text(value):
    return value


def _absolute_path(value):
    if not value.startswith("/"):
        raise ValueError("an absolute path (starting with /)")
    return Path(value)


def _optional_path(value):
    return _absolute_path(value) if value else None


def _url(value):
    parts = urllib.parse.urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("an http:// or https:// URL with a host, e.g. http://192.168.4.6")
    try:
        _ = parts.port  # raises ValueError for a bad port
    except ValueError:
        raise ValueError("a URL with a valid port number") from None
    if parts.query or parts.fragment:
        raise ValueError("a URL without ?query or #fragment")
    return value.rstrip("/")


def _table_name(value):
    if value and not value.replace("_", "").isalnum():
        raise ValueError("a logger table name (letters, digits, _)")
    return value


def _positive_float(low, high, why=""):
    allowed = f"a number of seconds between {low} and {high}" + (f" ({why})" if why else "")

    def parse(value):
        try:
            number = float(value)
        except ValueError:
            raise ValueError(allowed) from None
        if not low <= number <= high:
            raise ValueError(allowed)
        return number

    return parse


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


def _integer(low, high, optional=False):
    def parse(value):
        if optional and value == "":
            return None
        try:
            number = int(value)
        except ValueError:
            raise ValueError(f"a whole number between {low} and {high}" + (" or empty" if optional else "")) from None
        if not low <= number <= high:
            raise ValueError(f"a whole number between {low} and {high}" + (" or empty" if optional else ""))
        return number

    return parse


def _choice(*choices):
    def parse(value):
        if value not in choices:
            raise ValueError("one of " + ", ".join(choices))
        return value

    return parse


def _listen(value):
    host, sep, port = value.rpartition(":")
    host = host.strip("[]")
    try:
        if not sep:
            raise ValueError
        ipaddress.ip_address(host)
        port_number = int(port)
        if not 0 <= port_number <= 65535:
            raise ValueError
    except ValueError:
        raise ValueError("ADDRESS:PORT with an IP address, e.g. 0.0.0.0:8080 or 127.0.0.1:8080") from None
    return (host, port_number)


def _hostname(value):
    if value and (any(c.isspace() for c in value) or value.startswith("-")):
        raise ValueError("a host name or IP address (no spaces, not starting with -)")
    return value


def _username(value):
    if value and (any(c.isspace() for c in value) or value.startswith("-")):
        raise ValueError("a user name (no spaces, not starting with -)")
    return value


def _password_hash(value):
    from meso360.web.auth import is_valid_hash  # the hash format belongs to the web daemon's auth module

    if value and not is_valid_hash(value):
        raise ValueError(
            "empty or a hash made by `meso360ctl passwd` (scrypt$N$r$p$salt$hash); as it is, every login"
            " would fail: set it with sudo meso360ctl passwd"
        )
    return value


# A bad value of these is not repeated in the error (a password typed in place of its hash, say).
_NOT_ECHOED = {("web", "password_hash")}


# --- the schema: section -> key -> (default, parser, help). It validates and documents. ---

SCHEMA = {
    "meso360": {
        "vehicle": ("MM1", _text, "Vehicle name shown on the dashboard."),
        "data_dir": ("/var/lib/meso360/data", _absolute_path, "Daily observation files YYYYMMDD.txt."),
        "support_dir": ("/var/lib/meso360/support", _absolute_path, "Daily Support files YYYYMMDD_support.txt."),
        "state_dir": ("/var/lib/meso360/state", _absolute_path, "Ingest resume state (last record written)."),
    },
    "ingest": {
        "logger_url": (
            "http://192.168.4.6",
            _url,
            "Campbell logger web server, scheme://host[:port][/prefix]. The vehicle's logger;"
            " point at http://127.0.0.1:8081 to use the simulator (meso360-sim).",
        ),
        "obs_table": ("Obs", _table_name, "Logger table with the 1 Hz observations (19 fields)."),
        "support_table": ("Support", _table_name, "Logger Support table (9 fields); empty: not collected."),
        "poll_interval": ("1.0", _positive_float(0.1, 60.0), "Seconds between polls of the logger."),
        "request_timeout": (
            "5.0",
            _positive_float(0.5, INGEST_WATCHDOG.max_timeout_seconds, INGEST_WATCHDOG.why("a failing poll may")),
            "Seconds before an HTTP request to the logger fails (connect, then each read).",
        ),
        "username": ("", _username, "HTTP Basic user for the logger; empty: no authentication."),
        "password": ("", _text, "HTTP Basic password for the logger."),
        "first_start": (
            "today",
            _choice("newest", "today", "all"),
            "Where the very first start (no state, no data files) begins: newest (the newest record), today"
            " (every record of the current UTC day the logger holds) or all (everything it holds).",
        ),
    },
    "web": {
        "listen": ("0.0.0.0:8080", _listen, "Address and port of the dashboard and control panel."),
        "history_hours": ("2", _integer(1, 48), "Hours of observations kept in memory for the live charts."),
        "password_hash": (
            "",
            _password_hash,
            "Operator password hash for control actions, set by `meso360ctl passwd`; empty: read-only panel.",
        ),
    },
    "tunnel": {
        "host": ("", _hostname, "Bastion host for the reverse SSH tunnel; empty: tunnel not configured."),
        "port": ("22", _integer(1, 65535), "SSH port of the bastion."),
        "user": ("", _username, "User on the bastion."),
        "key_file": ("/etc/meso360/tunnel_key", _absolute_path, "Private key (must not be group/world readable)."),
        "known_hosts": ("/etc/meso360/known_hosts", _absolute_path, "Pinned host key of the bastion."),
        "remote_port": ("", _integer(1, 65535, optional=True), "Port opened on the bastion, forwarded to local_port."),
        "local_port": ("22", _integer(1, 65535), "Port on the vehicle reached through the tunnel (its sshd)."),
        "keepalive_interval": ("15", _positive_float(1.0, 600.0), "Seconds between keepalive requests."),
        "keepalive_misses": ("3", _integer(1, 100), "Unanswered keepalives before the link is declared dead."),
        "probe_interval": ("60", _positive_float(5.0, 3600.0), "Seconds between end-to-end probes of the forward."),
        "connect_timeout": (
            "15",
            _positive_float(1.0, TUNNEL_WATCHDOG.max_timeout_seconds, TUNNEL_WATCHDOG.why("the connection steps")),
            "Seconds allowed for each step: TCP connect, SSH banner, authentication, forward request, probe.",
        ),
        "retry_max_delay": ("60", _positive_float(1.0, 3600.0), "Longest wait between reconnect attempts (seconds)."),
    },
}


@dataclasses.dataclass(frozen=True)
class GeneralConfig:
    vehicle: str
    data_dir: Path
    support_dir: Path
    state_dir: Path


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


@dataclasses.dataclass(frozen=True)
class TunnelConfig:
    host: str
    port: int
    user: str
    key_file: Path
    known_hosts: Path
    remote_port: object
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
class Config:
    path: str
    general: GeneralConfig
    ingest: IngestConfig
    web: WebConfig
    tunnel: TunnelConfig


_SECTION_CLASSES = {"meso360": GeneralConfig, "ingest": IngestConfig, "web": WebConfig, "tunnel": TunnelConfig}
_SECTION_ATTRS = {"meso360": "general", "ingest": "ingest", "web": "web", "tunnel": "tunnel"}


def resolve_path(path=None):
    """Return the config path: explicit `path` > $MESO360_CONFIG > /etc/meso360/meso360.conf."""
    return str(path or os.environ.get(ENV_VAR) or DEFAULT_PATH)


def parse(text, path="<string>"):
    """Given the INI `text`, return a Config. Raise ConfigError listing every problem at once."""
    parser = configparser.ConfigParser(interpolation=None, inline_comment_prefixes=("#", ";"))
    try:
        parser.read_string(text, source=path)
    except configparser.Error as error:
        raise ConfigError([f"{path}: not a valid INI file: {error}"]) from error

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
                shown = "(not shown)" if (section, key) in _NOT_ECHOED else repr(raw)
                problems.append(f"{path}: {section}.{key} = {shown}: must be {error}")
        sections[_SECTION_ATTRS[section]] = values

    tunnel = sections["tunnel"]
    if tunnel.get("host"):
        for key in ("user", "remote_port"):
            if tunnel.get(key) in ("", None):
                problems.append(f"{path}: tunnel.{key} is empty: required when tunnel.host is set")

    if problems:
        raise ConfigError(problems)
    built = {attr: _SECTION_CLASSES[section](**sections[attr]) for section, attr in _SECTION_ATTRS.items()}
    return Config(path=path, **built)


def load(path=None):
    """Read and validate the config file at `path` (see resolve_path). Raise ConfigError."""
    path = resolve_path(path)
    try:
        with open(path, encoding="utf-8") as file:
            text = file.read()
    except FileNotFoundError:
        raise ConfigError([f"{path}: config file not found (set --config or ${ENV_VAR})"]) from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError([f"{path}: cannot read config file: {error}"]) from error
    return parse(text, path)


def example_text():
    """Return the commented example config: every key with its default."""
    lines = [
        "# meso360 configuration (/etc/meso360/meso360.conf).",
        "# Every key is shown with its default; uncomment and edit to change it.",
        "# Check your edits with: meso360ctl config validate",
    ]
    for section, keys in SCHEMA.items():
        lines += ["", f"[{section}]"]
        for key, (default, _parse, help_text) in keys.items():
            lines.append(f"# {help_text}")
            lines.append(f"#{key} = {default}")
    return "\n".join(lines) + "\n"
