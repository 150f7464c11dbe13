"""The units' shared sandbox drop-in: one place for every hardening line, none silently overridden."""

import configparser
from pathlib import Path

import pytest

UNITS = Path(__file__).resolve().parents[2] / "units"
SHARED = UNITS / "meso360-.service.d" / "10-sandbox.conf"
SERVICES = sorted(path.name for path in UNITS.glob("meso360-*.service"))


def directives(path):
    """Given a unit file or drop-in, return the names of the directives its [Service] section sets."""
    parser = configparser.ConfigParser(strict=False, interpolation=None, empty_lines_in_values=False)
    parser.optionxform = str
    parser.read(path)
    return set(parser["Service"]) if parser.has_section("Service") else set()


def test_every_service_shares_the_drop_in():
    assert SERVICES == [
        "meso360-avahi.service",
        "meso360-ingest.service",
        "meso360-journal@.service",
        "meso360-sim.service",
        "meso360-tunnel.service",
        "meso360-unitfile@.service",
        "meso360-web.service",
    ]
    assert {"NoNewPrivileges", "CapabilityBoundingSet", "ProtectSystem", "SystemCallFilter"} <= directives(SHARED)


@pytest.mark.parametrize("unit", SERVICES)
def test_no_unit_file_sets_a_line_of_the_shared_sandbox(unit):
    # systemd applies the drop-in after the unit file: the unit's own line would be overridden, not used.
    assert directives(UNITS / unit) & directives(SHARED) == set()


def test_the_web_exceptions_come_after_the_shared_sandbox():
    exceptions = UNITS / "meso360-web.service.d" / "20-sandbox-web.conf"
    # Drop-ins of all matching directories are applied in the order of their file names.
    assert sorted([exceptions.name, SHARED.name]) == [SHARED.name, exceptions.name]
    assert directives(exceptions) == {"ProcSubset", "SystemCallFilter"}


@pytest.mark.parametrize("path", [SHARED, *(UNITS / unit for unit in SERVICES)])
def test_every_sandbox_line_says_why(path):
    # A comment above each group of directives (IPAddressDeny= and IPAddressAllow= share one).
    text = path.read_text()
    sandbox = text.partition("# --- sandbox")[2].partition("\n[")[0] if path != SHARED else text
    above = "#"
    for line in sandbox.splitlines():
        if "=" in line and not line.startswith("#"):
            assert above.startswith("#") or "=" in above, f"{path.name}: {line!r} has no reason above it"
        above = line
