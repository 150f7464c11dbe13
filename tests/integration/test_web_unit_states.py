"""The web daemon follows the meso360 units' states over D-Bus: a request reads a snapshot, signals update it.

Real: the web daemon process, a dbus-daemon (a private bus in tmp_path, given to the daemon as its system bus
through DBUS_SYSTEM_BUS_ADDRESS), jeepney on both sides. Mocked, because it cannot run here (PID 1 is not
systemd): systemd itself, by a small org.freedesktop.systemd1 service on that bus (fake_systemd.py), and
`systemctl` by a script first on PATH that records every run. The real systemd is checked in the booted
container (scripts/e2e.sh).
"""

import os
import re
import stat
import time

import pytest
import requests
from fake_systemd import FakeSystemd, PrivateBus
from ingest_helpers import wait_until
from web_helpers import start_web

from meso360.web import unitwatch

NOW_USEC = int(time.time()) * 1_000_000
UNITS = {
    "meso360-ingest.service": {
        "LoadState": "loaded", "ActiveState": "active", "SubState": "running", "UnitFileState": "enabled",
        "ActiveEnterTimestamp": NOW_USEC - 600_000_000, "NRestarts": 0, "WatchdogUSec": 30_000_000,
        "StatusText": "logger OK", "Result": "success",
    },
    "meso360-web.service": {
        "LoadState": "loaded", "ActiveState": "active", "SubState": "running", "UnitFileState": "enabled",
        "ActiveEnterTimestamp": NOW_USEC - 60_000_000, "NRestarts": 0, "WatchdogUSec": 30_000_000,
        "StatusText": "serving", "Result": "success",
    },
    "meso360-tunnel.service": {
        "LoadState": "loaded", "ActiveState": "inactive", "SubState": "dead", "UnitFileState": "enabled",
        "ActiveEnterTimestamp": 0, "NRestarts": 0, "WatchdogUSec": 0, "StatusText": "", "Result": "success",
    },
}  # fmt: skip
# meso360-sim.service is not installed: the fake answers LoadUnit with LoadState=not-found, as systemd does.
FAKE_SYSTEMCTL = """#!/bin/sh
echo "$*" >> "{log}"
{body}
"""
NO_SYSTEMD = 'echo "System has not been booted with systemd as init system (PID 1). Can\'t operate." >&2; exit 1'
SHOW_ACTIVE = """if [ "$1" = show ]; then
  for c in ingest web tunnel sim; do
    printf 'Id=meso360-%s.service\\nLoadState=loaded\\nActiveState=active\\n\\n' $c
  done
fi"""


def fake_systemctl(directory, body):
    """A `systemctl` that appends its arguments to a log and runs `body`; return (PATH value, log path)."""
    bin_dir = directory / "bin"
    bin_dir.mkdir()
    log = directory / "systemctl.argv"
    log.touch()
    script = bin_dir / "systemctl"
    script.write_text(FAKE_SYSTEMCTL.format(log=log, body=body))
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return f"{bin_dir}:{os.environ['PATH']}", log


@pytest.fixture
def bus(tmp_path):
    private = PrivateBus(tmp_path)
    yield private
    private.stop()


@pytest.fixture
def web_on_bus(tmp_path, bus):
    """(web, fake systemd, systemctl log): meso360-web with the private bus as its system bus."""
    systemd = FakeSystemd(bus.address, UNITS)
    path, systemctl_log = fake_systemctl(tmp_path, NO_SYSTEMD)
    web = start_web(tmp_path, "", env={"DBUS_SYSTEM_BUS_ADDRESS": bus.address, "PATH": path})
    yield web, systemd, systemctl_log
    web.stop()
    systemd.stop()


def units_of(web):
    status = requests.get(web.url + "/api/status", timeout=5).json()
    return status["systemd"], {unit["component"]: unit for unit in status["units"]}


def test_unit_states_come_from_dbus_and_a_request_costs_no_call_and_no_process(web_on_bus):
    web, systemd, systemctl_log = web_on_bus
    assert systemd.subscribed.wait(10), "the web daemon never called Manager.Subscribe"
    wait_until(lambda: units_of(web)[0]["source"] == "dbus", 10, "states from D-Bus")
    manager, units = units_of(web)
    assert manager == {"available": True, "detail": "", "source": "dbus", "supervisor": "systemd"}
    ingest, web_unit, tunnel, sim = units["ingest"], units["web"], units["tunnel"], units["sim"]
    assert (ingest["active"], ingest["sub"], ingest["health"], ingest["enabled"]) == ("active", "running", "ok", True)
    assert ingest["since"] == time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(NOW_USEC // 1_000_000 - 600))
    assert ingest["status_text"] == "logger OK" and web_unit["status_text"] == "serving"
    assert (tunnel["active"], tunnel["health"]) == ("inactive", "idle")  # [tunnel] host empty: not configured
    assert (sim["active"], sim["health"]) == ("not-found", "not-installed")

    calls_before = len(systemd.calls)
    for _ in range(100):
        requests.get(web.url + "/api/status", timeout=5).raise_for_status()
    requests.get(web.url + "/metrics", timeout=5).raise_for_status()
    assert systemd.calls[calls_before:] == []  # no D-Bus call per request
    assert systemctl_log.read_text() == ""  # and no systemctl process, ever

    # A crash: systemd sends the new states as PropertiesChanged (StatusText only invalidated: the daemon Gets it).
    changed_at = time.monotonic()
    systemd.change(
        "meso360-ingest.service", ActiveState="activating", SubState="auto-restart", Result="exit-code",
        NRestarts=1, StatusText="", invalidate=("StatusText",),
    )  # fmt: skip
    crashed = lambda: (lambda unit: unit["sub"] == "auto-restart" and unit["restarts"] == 1)(units_of(web)[1]["ingest"])  # noqa: E731
    wait_until(crashed, 5, "the crash in /api/status")
    assert time.monotonic() - changed_at < 1.0
    ingest = units_of(web)[1]["ingest"]
    assert (ingest["health"], ingest["reason"]) == ("unhealthy", "crashed; systemd is restarting it")
    assert ingest["restarts"] == 1 and ingest["status_text"] == ""
    assert ("Get", "/org/freedesktop/systemd1/unit/meso360_2dingest_2eservice") in systemd.calls[calls_before:]
    metrics = requests.get(web.url + "/metrics", timeout=5).text
    assert re.search(r'^meso360_unit_active\{unit="meso360-ingest.service"\} 0$', metrics, re.MULTILINE)

    systemd.change("meso360-ingest.service", ActiveState="active", SubState="running", ActiveEnterTimestamp=NOW_USEC)
    wait_until(lambda: units_of(web)[1]["ingest"]["health"] == "ok", 5, "ingest running again")
    # `systemctl disable`: only Manager.UnitFilesChanged, then the daemon reads UnitFileState again.
    systemd.unit_files_changed("meso360-web.service", "disabled")
    wait_until(lambda: units_of(web)[1]["web"]["enabled"] is False, 5, "web disabled")
    metrics = requests.get(web.url + "/metrics", timeout=5).text
    assert re.search(r'^meso360_unit_active\{unit="meso360-ingest.service"\} 1$', metrics, re.MULTILINE)
    assert systemctl_log.read_text() == ""


def test_systemd_leaving_the_bus_and_coming_back_is_followed_again(tmp_path, web_on_bus, bus):
    web, systemd, systemctl_log = web_on_bus
    wait_until(lambda: units_of(web)[0]["source"] == "dbus", 10, "states from D-Bus")
    systemd.stop()  # its name loses its owner: the daemon falls back to systemctl, which says there is no systemd
    wait_until(lambda: units_of(web)[0]["available"] is False, 5, "systemd gone")
    manager, units = units_of(web)
    assert manager["source"] is None and "not been booted with systemd" in manager["detail"]
    assert units["ingest"]["active"] == "unknown"
    assert systemctl_log.read_text().startswith("show ")

    back = FakeSystemd(bus.address, {**UNITS, "meso360-tunnel.service": {**UNITS["meso360-web.service"]}})
    try:
        # The daemon tries the bus again every BUS_RETRY_S and reads every unit anew.
        wait_until(lambda: units_of(web)[0]["source"] == "dbus", unitwatch.BUS_RETRY_S + 10, "states from D-Bus")
        assert units_of(web)[1]["tunnel"]["active"] == "active"
        runs = systemctl_log.read_text()
        for _ in range(50):
            requests.get(web.url + "/api/status", timeout=5).raise_for_status()
        assert systemctl_log.read_text() == runs
    finally:
        back.stop()


def test_a_reexecuted_systemd_is_subscribed_to_again_and_read_anew(web_on_bus, bus):
    web, systemd, systemctl_log = web_on_bus
    wait_until(lambda: units_of(web)[0]["source"] == "dbus", 10, "states from D-Bus")
    # `systemctl daemon-reexec`: org.freedesktop.systemd1 gets a new owner (NameOwnerChanged old -> new).
    reexecuted = FakeSystemd(bus.address, {**UNITS, "meso360-tunnel.service": {**UNITS["meso360-web.service"]}}, True)
    try:
        assert reexecuted.subscribed.wait(5), "the web daemon did not subscribe to the new systemd"
        wait_until(lambda: units_of(web)[1]["tunnel"]["active"] == "active", 5, "the units read anew")
        reexecuted.change("meso360-tunnel.service", ActiveState="failed", SubState="failed", Result="exit-code")
        wait_until(lambda: units_of(web)[1]["tunnel"]["active"] == "failed", 5, "the new systemd's signals")
        assert units_of(web)[0]["source"] == "dbus" and systemctl_log.read_text() == ""  # no fallback meanwhile
    finally:
        reexecuted.stop()


def test_a_restarted_system_bus_is_connected_again_and_every_unit_read_anew(tmp_path, web_on_bus, bus):
    web, systemd, _log = web_on_bus
    wait_until(lambda: units_of(web)[0]["source"] == "dbus", 10, "states from D-Bus")
    systemd.stop()
    bus.stop()  # the connection breaks: the daemon falls back to systemctl (here: no systemd)
    wait_until(lambda: units_of(web)[0]["available"] is False, 5, "the bus gone")
    restarted = PrivateBus(tmp_path)  # the same socket path, as the system bus after a restart
    back = FakeSystemd(restarted.address, {**UNITS, "meso360-ingest.service": {**UNITS["meso360-tunnel.service"]}})
    try:
        wait_until(lambda: units_of(web)[0]["source"] == "dbus", unitwatch.BUS_RETRY_S + 10, "states from D-Bus")
        assert units_of(web)[1]["ingest"]["active"] == "inactive"  # read anew, not the state before the restart
        back.change("meso360-ingest.service", ActiveState="active", SubState="running")
        wait_until(lambda: units_of(web)[1]["ingest"]["active"] == "active", 5, "signals followed again")
    finally:
        back.stop()
        restarted.stop()


def test_without_a_bus_systemctl_is_polled_in_the_background_not_per_request(tmp_path):
    path, systemctl_log = fake_systemctl(tmp_path, SHOW_ACTIVE)
    env = {"DBUS_SYSTEM_BUS_ADDRESS": f"unix:path={tmp_path / 'no-bus'}", "PATH": path}
    web = start_web(tmp_path, "", env=env)
    try:
        manager, units = units_of(web)
        assert manager["source"] == "systemctl" and units["ingest"]["active"] == "active"
        runs_before = len(systemctl_log.read_text().splitlines())
        began = time.monotonic()
        for _ in range(200):
            requests.get(web.url + "/api/status", timeout=5).raise_for_status()
        seconds = time.monotonic() - began
        runs = len(systemctl_log.read_text().splitlines()) - runs_before
        # One `systemctl show` per POLL_S at most, however many requests came.
        assert runs <= seconds / unitwatch.POLL_S + 1, (runs, seconds)
    finally:
        web.stop()
