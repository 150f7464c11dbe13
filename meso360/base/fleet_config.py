"""Load and validate the base's fleet.conf (INI: [base] and one [vehicle NAME] per vehicle) into frozen dataclasses."""

import base64
import dataclasses
import os
import re
from pathlib import Path

from meso360.config import commented_keys, read_ini, read_text
from meso360.config_values import (
    absolute_path,
    listen_address,
    name_without_spaces,
    seconds_between,
    url,
    whole_number_between,
)
from meso360.errors import ConfigError

DEFAULT_PATH = "/etc/meso360-base/fleet.conf"
ENV_VAR = "MESO360_FLEET_CONFIG"
VEHICLE_PREFIX = "vehicle "
# A vehicle name becomes a systemd instance name (meso360-base-sync@MM1.timer), a directory and a label.
VEHICLE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,31}")
# Directories of the base beside the vehicles' ones in /var/lib/meso360-base.
RESERVED_NAMES = ("metrics", "targets", "prometheus")
HOST_KEY_TYPES = ("ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521", "ssh-rsa")


def host_public_key(value):
    """A vehicle's sshd host public key, "TYPE BASE64" as in /etc/ssh/ssh_host_ed25519_key.pub (comment dropped)."""
    parts = value.split()
    allowed = "a host public key 'ssh-ed25519 AAAA…' (the vehicle's /etc/ssh/ssh_host_ed25519_key.pub)"
    if len(parts) < 2 or parts[0] not in HOST_KEY_TYPES:
        raise ValueError(allowed)
    try:
        blob = base64.b64decode(parts[1], validate=True)
    except ValueError:
        raise ValueError(allowed) from None
    # The key blob starts with its own type as an SSH string: a key pasted under the wrong type is caught.
    if blob[4 : 4 + len(parts[0])] != parts[0].encode():
        raise ValueError(allowed)
    return f"{parts[0]} {parts[1]}"


BASE_SCHEMA = {
    "data_root": (
        "/var/lib/meso360-base",
        absolute_path,
        "Where each vehicle's files go: DATA_ROOT/VEHICLE/data, DATA_ROOT/VEHICLE/support (and sync.json).",
    ),
    "metrics_dir": (
        "/var/lib/meso360-base/metrics",
        absolute_path,
        "Prometheus textfiles of the syncs (sync_VEHICLE.prom), read by meso360-base-node-exporter.service.",
    ),
    "targets_file": (
        "/var/lib/meso360-base/targets/vehicles.json",
        absolute_path,
        "The vehicles' scrape targets for meso360-base-prometheus (file_sd), written by meso360-base-apply.",
    ),
    "key_file": (
        "/etc/meso360-base/id_ed25519",
        absolute_path,
        "The base's own private key, which logs in to every vehicle (readable by user meso360-base only).",
    ),
    "bastion_host": (
        "127.0.0.1",
        name_without_spaces("a host name or IP address"),
        "Where the vehicles' tunnels end: the base's own sshd forwards each vehicle's ports on its loopback.",
    ),
    "sync_interval": (
        "60",
        seconds_between(30.0, 3600.0),
        "Seconds between two syncs of a vehicle (the timers; applied by meso360-base-apply).",
    ),
    "connect_timeout": ("15", seconds_between(1.0, 120.0), "Seconds allowed for the SSH connection to a vehicle."),
    "io_timeout": (
        "120",
        seconds_between(10.0, 3600.0),
        "Seconds without any data from a vehicle before its sync is given up (rsync --timeout).",
    ),
}

VEHICLE_SCHEMA = {
    "ssh_port": ("", whole_number_between(1, 65535), "Bastion port forwarded to the vehicle's sshd (required)."),
    "web_port": ("", whole_number_between(1, 65535), "Bastion port forwarded to its web daemon (required)."),
    "host_key": ("", host_public_key, "The vehicle's sshd host public key, pinned (required)."),
    "user": ("meso360-fleet", name_without_spaces("a user name"), "Account on the vehicle (rrsync -ro only)."),
}
REQUIRED_VEHICLE_KEYS = ("ssh_port", "web_port", "host_key")

# The fleet page (meso360-base-web.service). Loopback by default: people at base reach it, and the vehicles'
# forwarded web ports its links point at (which sshd binds on the bastion's loopback), with one ssh -L.
WEB_SCHEMA = {
    "listen": (
        "127.0.0.1:8090",
        listen_address,
        "Address:port of the fleet page (meso360-base-web). 0.0.0.0:8090 serves the base LAN (then widen the"
        " unit's IPAddressAllow= in a drop-in).",
    ),
    "poll_interval": ("3", seconds_between(1.0, 60.0), "Seconds between two reads of the base Prometheus."),
    "prometheus_url": ("http://127.0.0.1:9190", url, "The base Prometheus (meso360-base-prometheus)."),
}


@dataclasses.dataclass(frozen=True)
class WebSettings:
    listen: tuple = ("127.0.0.1", 8090)
    poll_interval: float = 3.0
    prometheus_url: str = "http://127.0.0.1:9190"


@dataclasses.dataclass(frozen=True)
class BaseSettings:
    data_root: Path
    metrics_dir: Path
    targets_file: Path
    key_file: Path
    bastion_host: str
    sync_interval: float
    connect_timeout: float
    io_timeout: float


@dataclasses.dataclass(frozen=True)
class Vehicle:
    name: str
    ssh_port: int
    web_port: int
    host_key: str
    user: str


@dataclasses.dataclass(frozen=True)
class FleetConfig:
    path: str
    base: BaseSettings
    vehicles: tuple
    web: WebSettings = WebSettings()

    def vehicle(self, name):
        """Return the Vehicle called `name`. Raise ConfigError naming the known ones if there is none."""
        for vehicle in self.vehicles:
            if vehicle.name == name:
                return vehicle
        known = ", ".join(v.name for v in self.vehicles) or "none"
        raise ConfigError([f"{self.path}: no [vehicle {name}] section (vehicles: {known})"])

    def vehicle_dir(self, name):
        return self.base.data_root / name


def resolve_path(path=None):
    """Return the fleet config path: explicit `path` > $MESO360_FLEET_CONFIG > /etc/meso360-base/fleet.conf."""
    return str(path or os.environ.get(ENV_VAR) or DEFAULT_PATH)


def _parse_section(parser, section, schema, path, problems, required=()):
    values = {}
    for key in parser[section] if parser.has_section(section) else ():
        if key not in schema:
            problems.append(f"{path}: [{section}] {key}: unknown key (allowed: {', '.join(schema)})")
    for key, (default, parse_value, _help) in schema.items():
        raw = parser.get(section, key, fallback=default).strip()
        if key in required and raw == "":
            problems.append(f"{path}: [{section}] {key}: required")
            continue
        try:
            values[key] = parse_value(raw)
        except ValueError as error:
            problems.append(f"{path}: [{section}] {key} = {raw!r}: must be {error}")
    return values


def _parse_vehicle(parser, section, path, problems):
    name = section[len(VEHICLE_PREFIX) :].strip()
    if not VEHICLE_NAME.fullmatch(name) or name.lower() in RESERVED_NAMES:
        problems.append(
            f"{path}: [{section}]: the vehicle name must be letters, digits, - or _ (at most 32), e.g. MM1,"
            f" and not {', '.join(RESERVED_NAMES)}"
        )
    count = len(problems)
    values = _parse_section(parser, section, VEHICLE_SCHEMA, path, problems, REQUIRED_VEHICLE_KEYS)
    return None if len(problems) > count else Vehicle(name=name, **values)


def _check_unique_ports(vehicles, path, problems):
    owners = {}
    for vehicle in vehicles:
        for key in ("ssh_port", "web_port"):
            port = getattr(vehicle, key)
            if port in owners:
                problems.append(f"{path}: [vehicle {vehicle.name}] {key} = {port}: already used by {owners[port]}")
            owners[port] = f"[vehicle {vehicle.name}] {key}"


def parse(text, path="<string>"):
    """Given the INI `text`, return a FleetConfig. Raise ConfigError listing every problem at once."""
    parser = read_ini(text, path)
    problems = []
    vehicles = []
    for section in parser.sections():
        if section.startswith(VEHICLE_PREFIX):
            vehicles.append(_parse_vehicle(parser, section, path, problems))
        elif section not in ("base", "web"):
            problems.append(f"{path}: [{section}]: unknown section (allowed: [base], [web], [vehicle NAME])")
    base = _parse_section(parser, "base", BASE_SCHEMA, path, problems)
    web = _parse_section(parser, "web", WEB_SCHEMA, path, problems)
    vehicles = [vehicle for vehicle in vehicles if vehicle is not None]
    _check_unique_ports(vehicles, path, problems)
    if problems:
        raise ConfigError(problems)
    return FleetConfig(path=path, base=BaseSettings(**base), vehicles=tuple(vehicles), web=WebSettings(**web))


def load(path=None):
    """Read and validate the fleet config at `path` (see resolve_path). Raise ConfigError."""
    path = resolve_path(path)
    return parse(read_text(path, "fleet config", f"--fleet-config or ${ENV_VAR}"), path)


def example_text():
    """Return the commented example fleet.conf: [base] with every default, and one vehicle."""
    lines = [
        "# meso360-base fleet configuration (/etc/meso360-base/fleet.conf): the base settings and one",
        "# [vehicle NAME] section per vehicle. After an edit run: sudo meso360-base-apply",
        "",
        "[base]",
    ]
    lines += commented_keys(BASE_SCHEMA)
    lines += ["", "[web]", *commented_keys(WEB_SCHEMA)]
    lines += ["", "# One section per vehicle (the name is the vehicle's [meso360] vehicle), e.g.:", "#[vehicle MM1]"]
    examples = {"ssh_port": "2201", "web_port": "8201", "host_key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA…"}
    lines += commented_keys(VEHICLE_SCHEMA, examples)
    return "\n".join(lines) + "\n"
