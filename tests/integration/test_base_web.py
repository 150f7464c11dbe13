"""meso360-base-web, the fleet page, as a real process on loopback against a real Prometheus (Debian's, with the
packaged unit's command line and the generated config, scraping every second) that scrapes three vehicles'
/metrics stand-ins: MM1 collecting, MM2 with an alarm, MM3 seen once and then gone (down)."""

import json
import socket
import subprocess
import sys
import time

import pytest
from base_helpers import HEADER, REPO, Base, exec_start, obs_rows
from browser_helpers import (  # noqa: F401  browser: a fixture
    ARTIFACTS_DIR,
    PageErrors,
    browser,
    run_firefox_script,
    screenshot,
    wait_until,
)
from sshd_fixture import free_port, kill_tree, wait_for
from test_base_fleet_status import VehicleMetrics as MetricsStandIn

from meso360.base import fleet_config, targets

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFhn/zqwnZf83kDURJdpoNPuMn4HGPoksw91b3UEyOxt"
POSITIONS = {"MM1": (35.22, -97.44), "MM2": (35.85, -97.93), "MM3": (34.61, -98.39)}
ALARM_RED = "#f38ba8"


class VehicleMetrics(MetricsStandIn):
    """A vehicle's /metrics stand-in: its newest observation is always 2 s old; temperature and alarm settable."""

    def __init__(self, name, alarm=False):
        self.temperature = 21.5
        self.alarm = alarm
        self.position = POSITIONS[name]
        super().__init__(self.exposition)

    def exposition(self):
        lat, lon = self.position
        lines = [
            f"meso360_obs_timestamp_seconds {time.time() - 2:.3f}",
            f"meso360_obs_temperature_celsius {self.temperature}",
            "meso360_obs_dewpoint_celsius 15.5",
            "meso360_obs_pressure_hectopascals 965.2",
            "meso360_obs_wind_speed_meters_per_second 5.5",
            "meso360_obs_wind_direction_degrees 180",
            f"meso360_obs_latitude_degrees {lat}",
            f"meso360_obs_longitude_degrees {lon}",
            f'meso360_alarm_active{{name="gps_fix_lost"}} {int(self.alarm)}',
            "meso360_tunnel_up 1",
        ]
        return "\n".join(lines) + "\n"


def fetch(url, path):
    """GET url+path with the stdlib; return (status, body bytes)."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url + path, timeout=10) as answer:  # noqa: S310  http://127.0.0.1 only
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def snapshot(url):
    status, body = fetch(url, "/api/fleet")
    return {v["name"]: v for v in json.loads(body)["vehicles"]} if status == 200 else {}


def start_prometheus(directory, fleet):
    """Start Debian's Prometheus as the packaged unit does, scraping the fleet's targets every second."""
    config = directory / "prometheus.yml"
    config.write_text(
        targets.prometheus_config(
            targets.write_targets(fleet),
            rules_path=REPO / "meso360/base/monitoring/meso360.rules.yml",
            node_exporter=f"127.0.0.1:{free_port()}",
            alertmanager=f"127.0.0.1:{free_port()}",
            interval_seconds=1,
        )
    )
    port = free_port()
    replacements = {
        "/etc/meso360-base/prometheus.yml": str(config),
        "/var/lib/meso360-base/prometheus": str(directory / "tsdb"),
        "127.0.0.1:9190": f"127.0.0.1:{port}",
    }
    log = open(directory / "prometheus.log", "wb")  # noqa: SIM115  the process keeps it
    process = subprocess.Popen(exec_start("meso360-base-prometheus.service", replacements), stdout=log, stderr=log)
    return process, f"http://127.0.0.1:{port}"


def start_page(directory, config_path):
    """Start meso360-base-web (python -m, as its unit's /usr/bin/meso360-base-web does); return (process, URL)."""
    port_file = directory / "page.port"
    log = open(directory / "page.log", "wb")  # noqa: SIM115  the process keeps it
    argv = [sys.executable, "-m", "meso360.base.web.daemon", "--fleet-config", str(config_path)]
    process = subprocess.Popen([*argv, "--port-file", str(port_file)], stdout=log, stderr=log)
    wait_for(lambda: port_file.exists() or process.poll() is not None, 30, "the fleet page listening")
    assert process.poll() is None, (directory / "page.log").read_text()
    return process, f"http://127.0.0.1:{int(port_file.read_text())}"


@pytest.fixture(scope="module", name="fleet")
def fleet_fixture(tmp_path_factory):
    """The page and Prometheus running; MM3 scraped once, then gone. Yields (url, base, stand-ins, page's pid)."""
    directory = tmp_path_factory.mktemp("base-web")
    base = Base(directory)
    vehicles = {"MM1": VehicleMetrics("MM1"), "MM2": VehicleMetrics("MM2", alarm=True), "MM3": VehicleMetrics("MM3")}
    base.write_config(
        {name: {"ssh_port": free_port(), "web_port": v.port, "host_key": KEY} for name, v in vehicles.items()}
    )
    with open(base.config_path, "a") as file:
        file.write("\n[web]\nlisten = 127.0.0.1:0\npoll_interval = 1\n")
    prometheus, prometheus_url = start_prometheus(directory, fleet_config.load(base.config_path))
    with open(base.config_path, "a") as file:
        file.write(f"prometheus_url = {prometheus_url}\n")
    page, url = start_page(directory, base.config_path)
    states = lambda: {name: v["state"] for name, v in snapshot(url).items()}  # noqa: E731
    wait_for(lambda: states() == {"MM1": "ok", "MM2": "alarm", "MM3": "ok"}, 60, "every vehicle scraped")
    vehicles["MM3"].close()
    wait_for(lambda: states()["MM3"] == "down", 20, "MM3 down once its /metrics is gone")
    yield url, base, vehicles, page.pid
    for process in (page, prometheus):
        kill_tree(process.pid)
        process.wait(timeout=10)
    vehicles["MM1"].close()
    vehicles["MM2"].close()


def test_the_snapshot_shows_each_vehicles_state_values_alarms_and_last_known_position(fleet):
    url, _base, _vehicles, _pid = fleet
    vehicles = snapshot(url)
    mm1, mm2, mm3 = vehicles["MM1"], vehicles["MM2"], vehicles["MM3"]
    assert mm1["obs"]["pressure"] == 965.2 and mm1["obs"]["wdir"] == 180 and mm1["tunnel"] == {"up": True}
    assert 0 <= time.time() - mm1["obs"]["ts"] < 10 and mm1["alarms"] == [] and mm1["up"] is True
    assert mm2["state"] == "alarm" and mm2["alarms"] == ["gps_fix_lost"]
    assert mm3["up"] is False and mm3["reason"] == "unreachable through its tunnel" and mm3["obs"] == {}
    assert mm3["position"]["current"] is False and mm3["position"]["lat"] == POSITIONS["MM3"][0]
    assert mm1["sync"]["last_success"] is None and mm1["days"] == []


class Viewer:
    """A raw-socket SSE viewer of /api/fleet/stream: the answer's head, then one (id, document) per event."""

    def __init__(self, url):
        host, port = url.removeprefix("http://").split(":")
        self.socket = socket.create_connection((host, int(port)), timeout=15)
        self.socket.sendall(f"GET /api/fleet/stream HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        self.buffer = b""
        self.head = self._until(b"\r\n\r\n")

    def _until(self, separator):
        while separator not in self.buffer:
            chunk = self.socket.recv(65536)
            assert chunk, "the stream ended"
            self.buffer += chunk
        item, _sep, self.buffer = self.buffer.partition(separator)
        return item

    def event(self):
        """Return the next event with data as (id, document), skipping comments and the retry line."""
        while True:
            fields = dict(line.split(b": ", 1) for line in self._until(b"\n\n").split(b"\n") if b": " in line)
            if b"data" in fields:
                return int(fields[b"id"]), json.loads(fields[b"data"])


def test_the_stream_sends_the_current_snapshot_then_each_new_one_to_every_viewer(fleet):
    url, _base, vehicles, _pid = fleet
    viewers = [Viewer(url) for _ in range(3)]
    assert all(b"Content-Type: text/event-stream" in viewer.head for viewer in viewers)
    firsts = [viewer.event() for viewer in viewers]
    assert all(document["vehicles"][0]["name"] == "MM1" for _id, document in firsts)
    vehicles["MM1"].temperature = 30.25
    for viewer, (first_id, _document) in zip(viewers, firsts, strict=True):
        deadline = time.monotonic() + 15
        while True:
            event_id, document = viewer.event()
            assert event_id > first_id
            first_id = event_id
            if document["vehicles"][0]["obs"]["t"] == 30.25:
                break
            assert time.monotonic() < deadline, "the new temperature never arrived"
        viewer.socket.close()
    assert snapshot(url)["MM1"]["obs"]["t"] == 30.25


def threads_of(pid):
    status = open(f"/proc/{pid}/status").read()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("Threads:")))


def test_live_viewers_hold_no_thread_of_the_page(fleet):
    url, _base, _vehicles, pid = fleet
    before = threads_of(pid)
    viewers = [Viewer(url) for _ in range(40)]
    first_ids = [viewer.event()[0] for viewer in viewers]
    assert [viewer.event()[0] > first for viewer, first in zip(viewers, first_ids, strict=True)] == [True] * 40
    assert threads_of(pid) == before, "the streams run in the event loop, not in worker threads"
    assert fetch(url, "/healthz") == (200, b"ok\n"), "the workers stay free for everything else"
    for viewer in viewers:
        viewer.socket.close()


def test_a_day_file_downloads_byte_identical_and_nothing_outside_the_synced_copy(fleet):
    url, base, _vehicles, _pid = fleet
    data = base.data_root / "MM1" / "data"
    (base.data_root / "MM1" / "support").mkdir(parents=True)
    data.mkdir(parents=True, exist_ok=True)
    content = (HEADER + obs_rows(0, 500)).encode()
    (data / "20261130.txt").write_bytes(content)
    (base.data_root / "MM1" / "support" / "20261130_support.txt").write_bytes(b"support,row\n")
    (data / "20261129.txt").symlink_to(base.config_path)  # a link out of the copy: refused
    assert fetch(url, "/data/MM1/20261130.txt") == (200, content)
    assert fetch(url, "/data/MM1/20261130_support.txt") == (200, b"support,row\n")
    wait_for(lambda: snapshot(url)["MM1"]["days"] == ["20261130", "20261129"], 10, "the synced days listed")
    refused = [
        "/data/MM1/20261129.txt",
        "/data/MM1/..%2Ffleet.conf",
        "/data/MM1/..%2F..%2Ffleet.conf",
        "/data/..%2Ffleet.conf/20261130.txt",
        "/data/MM9/20261130.txt",
        "/data/MM1/20261130.txt.bak",
        "/data/MM1/2026113.txt",
        "/data/MM1/%2Fetc%2Fpasswd",
        "/data/MM1/20261131.txt",
    ]
    for path in refused:
        status, body = fetch(url, path)
        assert status == 404 and b"[base]" not in body and b"root:" not in body, path


def assert_the_fleet_shown(url, rows, debug, alarms, ssh_command):
    """The page's table rows ([vehicle, state, colour of the state, link]), its map's debug(), the alarms and the SSH
    command as a browser shows them: MM1 ok, MM2 in alarm red, MM3 down, each a marker on the map."""
    assert [row[:2] for row in rows] == [["MM1", "ok"], ["MM2", "alarm"], ["MM3", "down"]]
    assert rows[1][2] == "rgb(243, 139, 168)", "MM2's state is drawn alarm red"
    web_ports = [v["web_port"] for v in snapshot(url).values()]
    assert [row[3] for row in rows] == [f"http://127.0.0.1:{port}/view" for port in web_ports]
    assert [marker["color"] for marker in debug["track"]] == ["#a6e3a1", ALARM_RED, "#9399b2"]
    assert all(0 < m["x"] < debug["width"] and 0 < m["y"] < debug["height"] for m in debug["track"])
    assert debug["layers"]["state"]["lines"] > 0, "the state boundaries are drawn"
    assert "alarms gps_fix_lost" in alarms
    assert "-L" in ssh_command


@pytest.mark.browser
def test_the_page_shows_every_vehicle_on_the_map_and_in_the_table_with_mm2_in_alarm_red(fleet, browser):  # noqa: F811
    url, _base, _vehicles, _pid = fleet
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors = PageErrors(page, url)
    page.goto(url + "/")
    wait_until(lambda: page.evaluate("document.querySelectorAll('#fleet-table tbody tr').length") == 3, 15, "3 rows")
    rows = page.evaluate(
        "[...document.querySelectorAll('#fleet-table tbody tr')].map((r) => [r.dataset.vehicle, r.dataset.state,"
        " getComputedStyle(r.querySelector('.state')).color, r.querySelector('a').href])"
    )
    debug = wait_until(
        lambda: (d := page.evaluate("document.getElementById('fleet-map').trackMap.debug()"))["atlasLoaded"]
        and len(d["track"]) == 3
        and d,
        15,
        "three markers on the map with its boundaries",
    )
    assert_the_fleet_shown(url, rows, debug, page.inner_text("#fleet-alarms"), page.inner_text("#ssh-command"))
    screenshot(page, "base-fleet-page")
    assert errors.errors == [] and errors.foreign_requests == []
    page.close()


@pytest.mark.browser
def test_the_page_shows_the_same_in_firefox(fleet, tmp_path):
    url, _base, _vehicles, _pid = fleet
    outcome = run_firefox_script(
        "firefox_fleet_check.mjs", {"url": url, "vehicles": 3, "timeoutMs": 30000}, tmp_path, timeout_s=120
    )
    assert outcome["failure"] is None, outcome["failure"]
    checks = outcome["checks"]
    assert checks["browserVersion"].lower().startswith("firefox"), checks["browserVersion"]
    assert_the_fleet_shown(url, checks["rows"], checks["map"], checks["alarms"], checks["sshCommand"])
    assert outcome["errors"] == [] and outcome["foreignRequests"] == [], outcome
    assert (ARTIFACTS_DIR / "base-fleet-page-firefox.png").stat().st_size > 10000
