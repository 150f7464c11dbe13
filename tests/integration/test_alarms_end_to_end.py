"""Alarms end to end: the real simulator's faults, the real ingest and web daemons, headless Chromium and the real
`meso360ctl` process, all on loopback.

Not real here: systemd (PID 1 of this machine is not systemd). For the unit alarms the web daemon and meso360ctl get
a fake `systemctl` first on their PATH that answers `show` with one failed and one restarting unit; the booted-
container end-to-end test has the real units.
"""

import datetime as dt
import json
import math
import re
import socket
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
from browser_helpers import PageErrors, browser, screenshot, wait_until  # noqa: F401 (the fixture)
from conftest import start_simulator_process
from ingest_helpers import IngestProcess
from ingest_helpers import write_config as write_ingest_config
from web_helpers import start_web

from meso360 import alarm_inputs
from meso360.systemd_units import utc_iso

pytestmark = pytest.mark.browser

MESO360CTL = str(Path(sys.executable).parent / "meso360ctl")
ALARM_DEADLINE_S = 35  # rows stop -> alarm in the API and the banner (issue 11)
FAKE_SYSTEMCTL = """#!/bin/sh
# Fake systemctl for the alarm tests: this machine has no systemd as PID 1.
if [ "$1" = show ]; then
  for c in web tunnel; do
    printf 'Id=meso360-%s.service\\nLoadState=loaded\\nActiveState=active\\nSubState=running\\n' "$c"
    printf 'UnitFileState=enabled\\nNRestarts=0\\n\\n'
  done
  printf 'Id=meso360-ingest.service\\nLoadState=loaded\\nActiveState=failed\\nSubState=failed\\nResult=exit-code\\n'
  printf 'UnitFileState=enabled\\nNRestarts=10\\n\\n'
  printf 'Id=meso360-sim.service\\nLoadState=loaded\\nActiveState=activating\\nSubState=auto-restart\\n'
  printf 'UnitFileState=disabled\\nNRestarts=2\\n\\n'
  printf 'Id=meso360.target\\nLoadState=loaded\\nActiveState=active\\nSubState=active\\n\\n'
  exit 0
fi
exit 1
"""


def start_stack(base, rate, web_config="", env=None):
    """Simulator -> ingest -> data files -> web, sharing the state dir (logger.json); return (sim, ingest, web)."""
    sim = start_simulator_process(base, rate=rate, prefill=60)
    ingest = IngestProcess(write_ingest_config(base, sim.url), base / "ingest.log")
    (base / "web").mkdir()
    config = (
        f"[meso360]\nvehicle = MMA\ndata_dir = {base / 'data'}\nsupport_dir = {base / 'support'}\n"
        f"state_dir = {base / 'state'}\n[ingest]\nlogger_url = {sim.url}\n{web_config}"
    )
    web = start_web(base / "web", config, env=env)
    return sim, ingest, web


def active_names(web):
    return [alarm["name"] for alarm in requests.get(web.url + "/api/alarms", timeout=5).json()["active"]]


def metric_values(web):
    text = requests.get(web.url + "/metrics", timeout=5).text
    return {name: int(value) for name, value in re.findall(r'^meso360_alarm_active\{name="(\w+)"\} (\d)$', text, re.M)}


class AlarmEvents:
    """Collect the `alarm` events of the live stream (/api/stream) in a thread."""

    def __init__(self, web):
        self.events = []
        self.response = requests.get(web.url + "/api/stream", stream=True, timeout=(5, 300))
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        current = {}
        try:
            for line in self.response.iter_lines(chunk_size=1, decode_unicode=True):
                if line == "":
                    if current.get("event") == "alarm":
                        self.events.append(json.loads(current["data"]) | {"_id": current.get("id")})
                    current = {}
                elif not line.startswith(":"):
                    name, _, value = line.partition(": ")
                    current[name] = value
        except (requests.RequestException, AttributeError):
            return  # closed at the end of the test

    def close(self):
        self.response.close()


def ctl_status(base, port, env=None):
    """Run the real `meso360ctl status --json` with the web daemon's config and its listen port; return (code, dict)."""
    config = (base / "web" / "web.conf").read_text().replace("127.0.0.1:0", f"127.0.0.1:{port}")
    path = base / f"ctl-{port}.conf"
    path.write_text(config)
    result = subprocess.run(
        [MESO360CTL, "--config", str(path), "status", "--json"], capture_output=True, text=True, timeout=60, env=env
    )
    return result.returncode, json.loads(result.stdout)


def free_port():
    """A loopback port nothing listens on (bound, then closed): meso360ctl finds no web daemon there."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def open_page(browser, web, path, notifications=True):
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.set_default_timeout(15000)
    if notifications:
        context.grant_permissions(["notifications"], origin=web.url)
    page = context.new_page()
    page.meso360_errors = PageErrors(page, web.url)
    page.goto(web.url + path)
    return context, page


def banner_names(page):
    return page.evaluate(
        "() => [...document.querySelectorAll('#alarm-banner:not(.hidden) [data-alarm]')].map(n => n.dataset.alarm)"
    )


def test_rows_stopping_raise_the_stale_alarm_everywhere_within_35_s_and_rows_resuming_clear_it(tmp_path, browser):
    sim, ingest, web = start_stack(tmp_path, rate=1)
    events = None
    contexts = []
    try:
        wait_until(lambda: active_names(web) == [], 60, "no alarm once rows arrive")
        events = AlarmEvents(web)
        panel_context, panel = open_page(browser, web, "/")
        dash_context, dashboard = open_page(browser, web, "/view")
        contexts += [panel_context, dash_context]
        wait_until(lambda: panel.evaluate("() => !!window.meso360Alarms"), 15, "alarms.js loaded")
        assert banner_names(panel) == [] and banner_names(dashboard) == []
        assert metric_values(web)["stale"] == 0

        last_row_before = alarm_inputs.last_row_at(tmp_path / "data")
        log_before = len(web.log())
        sim.fault("outage", seconds=45)
        started = time.monotonic()
        wait_until(lambda: "stale" in active_names(web), ALARM_DEADLINE_S, "/api/alarms lists stale")
        wait_until(lambda: banner_names(panel) == ["stale"], ALARM_DEADLINE_S - (time.monotonic() - started), "panel")
        wait_until(lambda: banner_names(dashboard) == ["stale"], 2, "the dashboard's banner")
        elapsed = time.monotonic() - started
        print(f"stale alarm in /api/alarms and both banners {elapsed:.1f} s after the outage began")
        assert elapsed <= ALARM_DEADLINE_S
        (alarm,) = requests.get(web.url + "/api/alarms", timeout=5).json()["active"]
        assert alarm["title"] == "No new data" and "rack power" in alarm["fix"]
        since = dt.datetime.fromisoformat(alarm["since"]).timestamp()
        assert last_row_before + 29 <= since <= last_row_before + 33, "since: 30 s after the last row"
        assert metric_values(web)["stale"] == 1
        assert "No new data" in panel.inner_text("#alarm-banner") and "Fix: Check the datalogger" in panel.inner_text(
            "#alarm-banner"
        )
        assert panel.evaluate("() => window.meso360Alarms.notifications.length") == 1, "a system notification"
        screenshot(panel, "alarm-banner-panel")
        screenshot(dashboard, "alarm-banner-dashboard")

        # meso360ctl status shows the web daemon's alarms, and the same ones evaluated itself without it.
        code, status = ctl_status(tmp_path, web.port)
        assert code == 1 and status["alarms"]["source"] == "web"
        assert [a["name"] for a in status["alarms"]["active"]] == ["stale"]
        code, status = ctl_status(tmp_path, free_port())
        assert code == 1 and status["alarms"]["source"] == "meso360ctl"
        assert [a["name"] for a in status["alarms"]["active"]] == ["stale"]
        assert "alarm stale: no new row since" in "; ".join(status["problems"])

        # Sound after a click; acknowledge silences it.
        assert panel.evaluate("() => window.meso360Alarms.soundOn()") is False
        assert "browsers play sound only after a click" in panel.inner_text("#alarm-banner")
        panel.click("#alarm-banner .alarm-sound")
        loudest = wait_until(lambda: panel.evaluate("() => window.meso360Alarms.level()") > 0.01, 5, "a beep")
        assert loudest
        panel.click("#alarm-banner .alarm-ack")
        assert "acknowledged" in panel.inner_text("#alarm-banner")
        beeps = panel.evaluate("() => window.meso360Alarms.beeps")
        time.sleep(4.5)  # two beep periods: none may come while acknowledged
        assert panel.evaluate("() => window.meso360Alarms.beeps") == beeps

        wait_until(lambda: active_names(web) == [], 120, "the alarm cleared once rows resume")
        wait_until(lambda: banner_names(panel) == [] and banner_names(dashboard) == [], 5, "banners cleared")
        assert metric_values(web)["stale"] == 0
        assert panel.evaluate("() => window.meso360Alarms.acknowledged.size") == 0, "re-armed for the next time"
        assert [(e["started"], e["ended"]) for e in events.events] == [(["stale"], []), ([], ["stale"])]
        assert all(e["_id"] is None for e in events.events), "alarm events carry no id (Last-Event-ID stays a row's)"
        log = web.log()[log_before:]
        assert log.count("alarm stale started") == 1 and log.count("alarm stale ended") == 1
        assert re.search(r"NOTICE +meso360.web.alarms: alarm stale ended after \d+ s", log)
        for page in (panel, dashboard):
            assert page.meso360_errors.errors == [] and page.meso360_errors.foreign_requests == []
    finally:
        for context in contexts:
            context.close()
        if events is not None:
            events.close()
        for process in (web, ingest, sim):
            process.stop()


def test_battery_gps_unit_tunnel_and_disk_alarms_agree_in_the_api_metrics_banner_and_status(tmp_path, browser):
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    systemctl = fake_bin / "systemctl"
    systemctl.write_text(FAKE_SYSTEMCTL)
    systemctl.chmod(systemctl.stat().st_mode | stat.S_IXUSR)
    env = {"PATH": f"{fake_bin}:/usr/bin:/bin"}
    free = alarm_inputs.disk_free_pct(tmp_path)
    disk_min = min(90, math.ceil(free) + 1)
    expected = ["unit_ingest", "unit_sim", "tunnel_unverified"] + (["disk_low"] if free < disk_min else [])
    expected.append("battery_low")
    tunnel_dir = tmp_path / "state" / "tunnel"
    tunnel_dir.mkdir(parents=True)
    now = time.time()
    (tunnel_dir / "tunnel.json").write_text(
        json.dumps(
            {"state": "down", "since": utc_iso(now - 900), "verified_at": utc_iso(now - 800), "detail": "refused"}
        )
    )
    # The simulator's BattV is 12.80-12.99 V: a 13.5 V threshold makes it "low".
    thresholds = (
        f"[alarms]\nbattery_min_v = 13.5\ngps_lost_s = 5\ncompleteness_min_pct = 0\ndisk_free_min_pct = {disk_min}\n"
        "[tunnel]\nhost = 127.0.0.1\nuser = vehicle\nremote_port = 2222\n"
    )
    sim, ingest, web = start_stack(tmp_path, rate=5, web_config=thresholds, env=env)
    contexts = []
    try:
        wait_until(lambda: active_names(web) == expected, 60, f"the alarms {expected}")
        logger = json.loads((tmp_path / "state" / "logger.json").read_text())
        assert 12.0 <= logger["battery_v"] <= 13.5, "the simulator's BattV is a realistic 12 V battery"
        metrics = metric_values(web)
        assert sorted(name for name, value in metrics.items() if value) == sorted(expected)
        assert len(metrics) == 10
        status = requests.get(web.url + "/api/status", timeout=5).json()
        assert status["logger"]["battery_v"] == pytest.approx(logger["battery_v"], abs=0.2)

        code, by_web = ctl_status(tmp_path, web.port, env=env)
        assert code == 1 and by_web["alarms"]["source"] == "web"
        code, by_ctl = ctl_status(tmp_path, free_port(), env=env)
        assert code == 1 and by_ctl["alarms"]["source"] == "meso360ctl"
        assert [a["name"] for a in by_web["alarms"]["active"]] == expected
        assert [a["name"] for a in by_ctl["alarms"]["active"]] == expected, "meso360ctl alone agrees with the web"
        assert by_ctl["logger"]["battery_v"] is not None

        context, panel = open_page(browser, web, "/", notifications=False)
        contexts.append(context)
        wait_until(lambda: banner_names(panel) == expected, 15, "the panel's banner lists every alarm")
        battery = panel.locator("#battery-row .value")
        wait_until(lambda: re.fullmatch(r"1[23]\.\d\d V \(\d\d:\d\d:\d\d\)", battery.inner_text()), 10, "battery")
        assert "c-bad" in battery.get_attribute("class")
        assert panel.evaluate("() => window.meso360Alarms.notifications.length") == 0, "no permission: no notification"

        events = AlarmEvents(web)
        try:
            sim.fault("no_fix", count=50)  # 10 s of rows without fix at 5 records a second
            wait_until(lambda: "gps_lost" in active_names(web), 30, "gps_lost while rows have no fix")
            wait_until(lambda: "gps_lost" in banner_names(panel), 5, "gps_lost in the banner")
            screenshot(panel, "alarm-banner-several")
            wait_until(lambda: "gps_lost" not in active_names(web), 60, "gps_lost cleared with the fix back")
            wait_until(lambda: any("gps_lost" in e["ended"] for e in events.events), 5, "the end event")
            assert [e["started"] for e in events.events if e["started"]] == [["gps_lost"]]
        finally:
            events.close()
        assert panel.meso360_errors.errors == [] and panel.meso360_errors.foreign_requests == []
    finally:
        for context in contexts:
            context.close()
        for process in (web, ingest, sim):
            process.stop()
