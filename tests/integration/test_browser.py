"""The dashboard and control panel in a real headless Chromium, against the real stack on loopback.

The simulator (meso360-sim at 1 Hz), the real ingest daemon and the real web daemon run for the whole module.
Not real here: systemd. PID 1 of this machine is not systemd, so the web daemon gets a fake `systemctl` first on
its PATH that answers `show` with four loaded units and records every other argv in a file; the booted-container
end-to-end test checks the real units.
"""

import datetime as dt
import json
import math
import signal
import stat
import time

import pytest
import requests
from browser_helpers import (
    MOBILE_USER_AGENT,
    MOBILE_VIEWPORT,
    PageErrors,
    browser,  # noqa: F401 (the fixture)
    screenshot,
    wait_until,
)
from conftest import start_simulator_process
from ingest_helpers import IngestProcess
from ingest_helpers import write_config as write_ingest_config
from web_helpers import start_web

from meso360.datafile import OBS_COLUMNS
from meso360.web.auth import hash_password

pytestmark = pytest.mark.browser

PASSWORD = "rack-operator-7"
VEHICLE = "MMT"
STORED_DAY = dt.date(2024, 1, 2)
STORED_ROWS = 900
STALE_S = 4
FAKE_SYSTEMCTL = """#!/bin/sh
# Fake systemctl for the browser tests: this machine has no systemd as PID 1.
if [ "$1" = show ]; then
  now=$(date +%s)
  for c in ingest web tunnel sim; do
    printf 'Id=meso360-%s.service\\nLoadState=loaded\\nActiveState=active\\nSubState=running\\n' "$c"
    printf 'ActiveEnterTimestamp=@%s\\nNRestarts=0\\n' $((now - 600))
    printf 'StatusText=%s fake\\nUnitFileState=enabled\\n\\n' "$c"
  done
  exit 0
fi
echo "$*" >> "$FAKE_SYSTEMCTL_LOG"
"""


def stored_day_rows():
    """Rows of a day file for STORED_DAY: one row a second from 12:00Z, with a 60-s hole after row 300."""
    start = dt.datetime.combine(STORED_DAY, dt.time(12), dt.UTC)
    rows = []
    for i in range(STORED_ROWS):
        when = start + dt.timedelta(seconds=i + (60 if i >= 300 else 0))
        values = dict.fromkeys(OBS_COLUMNS, "0")
        values.update(
            sfc_wspd=f"{4 + 2 * math.sin(i / 50):.2f}",
            sfc_wdir=f"{(i * 0.7) % 360:.1f}",
            t_fast=f"{10 + math.sin(i / 100):.2f}",
            dewpoint="2.50",
            pressure="950.10",
            gps_date=when.strftime("%d%m%y"),
            gps_time=when.strftime("%H%M%S"),
            lat="35.2",
            lon="-97.4",
        )
        rows.append(",".join(values[column] for column in OBS_COLUMNS))
    return rows


def _newest_age(web):
    newest = requests.get(web.url + "/api/status", timeout=5).json()["newest"]
    return math.inf if newest is None else newest["age_s"]


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """Simulator → ingest → data files → web (with password, fake systemctl) on loopback; stopped at teardown."""
    base = tmp_path_factory.mktemp("browser")
    data_dir = base / "data"
    data_dir.mkdir()
    day_file = data_dir / f"{STORED_DAY:%Y%m%d}.txt"
    day_file.write_text(",".join(OBS_COLUMNS) + "\n" + "\n".join(stored_day_rows()) + "\n")
    fake_bin = base / "bin"
    fake_bin.mkdir()
    systemctl = fake_bin / "systemctl"
    systemctl.write_text(FAKE_SYSTEMCTL)
    systemctl.chmod(systemctl.stat().st_mode | stat.S_IXUSR)
    control_log = base / "systemctl-argv.log"
    control_log.touch()

    running = []
    try:
        sim = start_simulator_process(base, rate=1, prefill=60)
        running.append(sim)
        ingest_config = write_ingest_config(base, sim.url)
        ingest = IngestProcess(ingest_config, base / "ingest.log")
        running.append(ingest)
        env = {"PATH": f"{fake_bin}:/usr/bin:/bin", "FAKE_SYSTEMCTL_LOG": str(control_log)}
        config = (
            f"[meso360]\nvehicle = {VEHICLE}\ndata_dir = {data_dir}\nsupport_dir = {base / 'support'}\n"
            f"state_dir = {base / 'web-state'}\n[ingest]\nlogger_url = {sim.url}\n"
            f"[web]\npassword_hash = {hash_password(PASSWORD)}\n"
        )
        web = start_web(base, config, env=env)
        running.append(web)
        readonly_dir = base / "readonly"
        readonly_dir.mkdir()
        readonly_config = f"[meso360]\nvehicle = {VEHICLE}\ndata_dir = {data_dir}\n"
        readonly = start_web(readonly_dir, readonly_config, env=env)
        running.append(readonly)
        # A row from the simulator, not the stored day: until today's file has a row, the live window holds
        # the stored day's rows, and a page loaded then loses them (and its point count) at the first live row.
        wait_until(lambda: _newest_age(web) < 60, 30, "a first live row from the simulator")
        yield {
            "base": base,
            "sim": sim,
            "ingest_config": ingest_config,
            "ingest": ingest,
            "web": web,
            "readonly": readonly,
            "control_log": control_log,
            "running": running,
        }
    finally:
        for process in reversed(running):
            process.stop()


@pytest.fixture
def page_on(browser, stack):
    """Factory: page_on(path, mobile=False) opens a page of the web daemon; checks errors and network at the end."""
    contexts = []

    def open_page(path, mobile=False, url=None, before=None):
        base_url = url or stack["web"].url
        if mobile:
            context = browser.new_context(
                viewport=MOBILE_VIEWPORT,
                user_agent=MOBILE_USER_AGENT,
                is_mobile=True,
                has_touch=True,
                device_scale_factor=2,
            )
        else:
            context = browser.new_context(viewport={"width": 1440, "height": 900})
        context.set_default_timeout(15000)
        page = context.new_page()
        errors = PageErrors(page, base_url)
        page.meso360_errors = errors  # a test that provokes an error response clears the expected console lines
        contexts.append((context, errors))
        if before is not None:
            before(context)
        page.goto(base_url + path)
        return page

    yield open_page
    for context, errors in contexts:
        context.close()
        assert errors.errors == [], errors.errors
        assert errors.foreign_requests == [], f"requests that left loopback: {errors.foreign_requests}"


def point_count(page):
    return page.evaluate("window.meso360 ? window.meso360.charts.pointCount() : 0")


def test_pure_functions_compute_legacy_formulas_in_the_browser(page_on):
    page = page_on("/view")
    results = page.evaluate(
        """async () => {
        const c = await import('/static/common.js');
        const o = await import('/static/obs.js');
        const ch = await import('/static/charts.js');
        const comp = await import('/static/components.js');
        const pts = (list) => list.map(([ts, extra]) => ({id: ts, ts, fix: true, t: null, td: null, wspd: null,
            wdir: null, pressure: null, compass_dir: null, lat: null, lon: null, alt: null, rh: null, ...extra}));
        let max = {max: null, resetTs: null};
        let ops = null;
        const day1 = [[1000, {wspd: 20}], [1001, {wspd: 12}], [1002, {wspd: 20}]];
        const day2 = [[1002 + 5 * 3600, {wspd: 3}], [1003 + 5 * 3600, {wspd: 4}]];
        const maxAfter = [];
        for (const p of pts([...day1, ...day2])) {
            ops = o.advanceOpsDay(ops, p.ts);
            max = o.updateMaxWind(max, p, ops.start);
            maxAfter.push([max.max.wspd, max.max.ts]);
        }
        const sentinels = o.withGapSentinels(pts([[10, {t: 1}], [11, {t: 2}], [14, {t: 3}]]), 2, ['t']);
        const avg = o.averages(pts([[90, {wdir: 350, t: 10}], [110, {wdir: 10, t: 20}], [129, {wdir: 20, t: 30}]]));
        const dp = o.pressureTendency(pts([[0, {pressure: 1000}], [100, {pressure: 1001}], [180, {pressure: 1003}]]));
        return {
            thetaE: c.thetaE(25, 15, 1000), thetaNull: c.thetaE(25, null, 1000),
            circ: [c.circularMean([350, 10]), c.circularMean([90, 180, null]), c.circularMean([])],
            nice: [0.3, 1.3, 2.1, 6, 0.1].map((raw) => c.niceStep(raw, 0.25)),
            windRange: ch.windRange(7.2), pressureRange: ch.pressureRange(950, 951),
            sentinels: [sentinels.ts, sentinels.t],
            opsStart: o.opsStart(pts([[0, {}], [10, {}], [10 + 4 * 3600, {}], [11 + 4 * 3600, {}]])),
            maxAfter,
            avg: [avg.t, avg.wdir, avg.n],
            dp,
            completeness: o.completeness(pts([[0, {t: 1}], [1, {t: 1}], [3, {t: 1}], [4, {}]])),
            clamp: ch.clampWindow(-50, 10, 0, 100),
            units: [comp.componentState({active: 'active', since: 1000, health: 'ok', enabled: true}, 1010).dot,
                    comp.componentState({active: 'active', since: 1000, health: 'ok', enabled: true}, 2000).dot,
                    comp.componentState({active: 'failed', health: 'unhealthy', reason: 'failed (watchdog)'}, 0),
                    comp.componentState({active: 'inactive', enabled: false, health: 'idle'}, 0).dot,
                    comp.componentState({active: 'inactive', configured: false, health: 'idle',
                                         reason: 'tunnel not configured (skipped)'}, 0)],
            age: o.recordAge(1000, {ts: 1000, ageS: 2, atMs: 0}, 3000, null),
            fahrenheit: c.tempIn(100, 'F'),
        };
    }"""
    )
    # θe: Bolton (1980) eqs 10, 15, 38, computed here independently.
    t, td, p = 25.0, 15.0, 1000.0
    e = 6.112 * math.exp(17.67 * td / (td + 243.5))
    r = 0.622 * e / (p - e)
    tl = 56 + 1 / (1 / (td + 273.15 - 56) - math.log((t + 273.15) / (td + 273.15)) / 800)
    theta = (t + 273.15) * (1000 / p) ** (0.2854 * (1 - 0.28 * r)) * math.exp(r * (1 + 0.81 * r) * (3376 / tl - 2.54))
    assert results["thetaE"] == pytest.approx(theta, abs=1e-6)
    assert results["thetaNull"] is None
    assert results["circ"][0] == pytest.approx(0, abs=1e-6) or results["circ"][0] == pytest.approx(360, abs=1e-6)
    assert results["circ"][1] == pytest.approx(135)
    assert results["circ"][2] is None
    assert results["nice"] == [0.5, 2, 2.5, 10, 0.25]
    assert results["windRange"] == [0, 10]  # 7.2 + 15 % = 8.28 → step 2.5 → 0..10, ticks 0/2.5/5/7.5/10
    assert results["pressureRange"][1] - results["pressureRange"][0] == pytest.approx(10)
    assert results["sentinels"] == [[10, 11, 12, 14], [1, 2, None, 3]]  # a null row at last+1 for the 3-s step
    assert results["opsStart"] == 10 + 4 * 3600
    # max wind: ties keep the first; a new ops day (gap ≥ 4 h) clears the old day's 20 m/s at once
    assert results["maxAfter"] == [[20, 1000], [20, 1000], [20, 1000], [3, 1002 + 5 * 3600], [4, 1003 + 5 * 3600]]
    assert results["avg"][0] == pytest.approx(25) and results["avg"][2] == 2  # only ts > latest − 30 s
    assert results["avg"][1] == pytest.approx(15, abs=1e-6)  # circular mean of 10° and 20°
    assert results["dp"] == pytest.approx(3)
    assert results["completeness"] == pytest.approx(60)  # 3 real seconds of 5
    assert results["clamp"] == [0, 60]
    assert results["units"] == [  # the server's health verdict, shown
        "recent",
        "running",
        {"dot": "failed", "label": "failed (watchdog)"},
        "disabled",
        {"dot": "unconfigured", "label": "tunnel not configured (skipped)"},
    ]
    assert results["age"] == pytest.approx(5)  # server said 2 s old, 3 s have passed since
    assert results["fahrenheit"] == pytest.approx(212)


def test_dashboard_draws_every_live_row_and_names_the_vehicle(page_on, stack):
    page = page_on("/view")
    page.wait_for_selector("#conn-dot.dot-live")
    first = wait_until(lambda: point_count(page), 20, "history drawn")
    try:
        wait_until(lambda: point_count(page) >= first + 3, 20, "live rows drawn")
    except AssertionError as error:
        # Say where the rows stopped: the page, the web daemon or ingest.
        page_ids = page.evaluate("window.meso360.buffer.points.map(p => p.id).slice(-3)")
        server = requests.get(stack["web"].url + "/api/status", timeout=5).json().get("live")
        ingest_log = (stack["base"] / "ingest.log").read_text(errors="replace")[-1500:]
        newest_file = sorted((stack["base"] / "data").glob("????????.txt"))[-1]
        lines = newest_file.read_text(errors="replace").splitlines()
        logger = stack["sim"].state()
        stack["sim"].process.send_signal(signal.SIGUSR1)  # the simulator dumps its threads' stacks to its log
        time.sleep(1)
        sim_log = stack["sim"].log_path.read_text(errors="replace")[-4000:]
        raise AssertionError(
            f"{error}; page {first} points, last ids {page_ids}; web live {server}; logger newest record "
            f"{logger.get('newest_record')}; {newest_file.name}: {len(lines)} lines, last {lines[-1][:90]!r}; "
            f"ingest log:\n{ingest_log}\nweb log:\n{stack['web'].log_path.read_text(errors='replace')[-1500:]}"
            f"\nsimulator log:\n{sim_log}"
        ) from None
    assert page.title().startswith(VEHICLE)
    assert page.inner_text("#vehicle") == VEHICLE
    ids = page.evaluate("window.meso360.buffer.points.map(p => p.id)")
    assert len(set(ids)) == len(ids) and ids == sorted(ids), "rows duplicated or out of order"
    history = requests.get(page.url.split("/view")[0] + "/api/history", timeout=5).json()["points"]["id"]
    missing = [i for i in history if ids[0] <= i <= ids[-1] and i not in set(ids)]
    assert missing == [], f"rows the server has but the page does not draw: {missing}"
    assert page.inner_text("#obs-cur-wspd").endswith("m/s")
    assert page.inner_text("#obs-fix") == "Fix"
    assert page.inner_text("#last-update").endswith("UTC")
    screenshot(page, "dashboard-desktop")


def test_failed_history_fetch_is_retried_and_queued_rows_are_kept(page_on):
    # The browser answers the first two /api/history requests with a 503 itself (a route): a failing server
    # cannot be produced on demand; the stream and the third request go to the real web daemon.
    failures = []

    def fail_twice(route):
        if len(failures) < 2:
            failures.append(route.request.url)
            route.fulfill(status=503, content_type="application/json", body='{"ok": false, "error": "busy"}')
        else:
            route.continue_()

    page = page_on("/view", before=lambda context: context.route("**/api/history", fail_twice))
    wait_until(lambda: "history unavailable" in page.inner_text("#status-msg"), 10, "retry announced")
    wait_until(lambda: point_count(page) > 0, 20, "history loaded on a later try")
    assert len(failures) == 2
    page.meso360_errors.errors.clear()  # the two 503 answers were provoked
    ids = page.evaluate("window.meso360.buffer.points.map(p => p.id)")
    assert len(set(ids)) == len(ids), "a row queued during the retries was added twice"
    assert not page.is_visible("#status-msg")


def test_dashboard_on_a_phone_uses_the_mobile_layout(page_on):
    page = page_on("/view", mobile=True)
    page.wait_for_selector("#conn-dot.dot-live")
    wait_until(lambda: point_count(page) > 0, 20, "history drawn on the phone")
    assert page.evaluate("document.documentElement.classList.contains('layout-narrow')")  # chosen by width
    assert page.locator(".chart-card").count() == 4  # wind speed and direction as two charts
    assert "pinch to zoom" in page.inner_text(".zoom-hint >> nth=0")
    screenshot(page, "dashboard-mobile")


def test_temperature_unit_choice_persists_across_reload(page_on):
    page = page_on("/view")
    page.wait_for_selector("#conn-dot.dot-live")
    wait_until(lambda: page.inner_text("#obs-cur-t").endswith("°C"), 20, "T in °C")
    page.click("#unit-f")
    wait_until(lambda: page.inner_text("#obs-cur-t").endswith("°F"), 5, "T in °F")
    page.reload()
    page.wait_for_selector("#conn-dot.dot-live")
    wait_until(lambda: page.inner_text("#obs-cur-t").endswith("°F"), 20, "T still in °F after reload")
    assert page.get_attribute("#unit-f", "aria-pressed") == "true"
    assert page.evaluate("window.meso360.charts.charts[0].u.axes[1].label") == "°F"  # the chart axis too
    page.click("#unit-c")


def test_day_picker_shows_a_stored_day_and_live_returns(page_on):
    page = page_on("/view")
    page.wait_for_selector("#conn-dot.dot-live")
    value = f"{STORED_DAY:%Y%m%d}"
    wait_until(lambda: page.locator(f"#day-select option[value='{value}']").count() == 1, 10, "day listed")
    page.select_option("#day-select", value)
    wait_until(lambda: "Viewing 2024-01-02" in page.inner_text("#day-banner"), 15, "day loaded")
    # every stored row drawn, plus one null sentinel for the 60-s hole
    assert point_count(page) == STORED_ROWS + 1
    assert page.is_visible("#live-btn")
    page.click("#live-btn")
    assert not page.is_visible("#day-banner")
    wait_until(lambda: point_count(page) != STORED_ROWS + 1, 10, "live data back on the charts")


def test_control_action_needs_the_password(page_on, stack):
    page = page_on("/")
    page.wait_for_selector("#component-sim")
    assert page.is_visible("#login-form")
    assert page.is_disabled("#component-sim button[data-action='restart']")
    anonymous = page.evaluate(
        """async () => (await fetch('/api/control', {method: 'POST', headers: {'Content-Type': 'application/json'},
            body: JSON.stringify({action: 'restart', component: 'sim'})})).status"""
    )
    assert anonymous in (401, 403)
    page.fill("#password", "wrong password")
    page.click("#login-btn")
    wait_until(lambda: "Login failed" in page.inner_text("#flash"), 10, "login refused")
    assert stack["control_log"].read_text() == ""
    page.meso360_errors.errors.clear()  # the two 401 answers above were expected
    page.fill("#password", PASSWORD)
    page.click("#login-btn")
    page.wait_for_selector("#logged-in", state="visible")
    page.wait_for_selector("#component-sim button[data-action='restart']:not([disabled])")
    page.click("#component-sim button[data-action='restart']")
    wait_until(lambda: "restart sim" in page.inner_text("#flash"), 15, "restart answered")
    assert "failed" not in page.inner_text("#flash")
    assert "restart meso360-sim.service" in stack["control_log"].read_text()
    assert page.inner_text("#heartbeat-text") == "server connected"
    assert "openstreetmap.org/?mlat=" in page.get_attribute("#map-link", "href")
    wait_until(lambda: "no systemd" in page.inner_text("#tail"), 10, "the journal tail says why it is empty")
    assert "connecting" not in page.inner_text("#tail")  # no stale "connecting..." line above it
    screenshot(page, "control-desktop")


def test_control_panel_without_password_is_read_only(page_on, stack):
    page = page_on("/", url=stack["readonly"].url)
    page.wait_for_selector("#readonly-note", state="visible")
    note = " ".join(page.inner_text("#readonly-note").split())
    assert note == (
        "Control is read-only. To enable it, run sudo meso360ctl passwd on the vehicle computer, "
        "then sudo systemctl restart meso360-web."
    )
    page.wait_for_selector("#component-ingest")
    assert page.locator("#components button").count() == 0
    assert not page.is_visible("#login-form")


def test_drag_zooms_wheel_pans_and_double_click_resets(page_on):
    page = page_on("/view")
    page.wait_for_selector("#conn-dot.dot-live")
    # 20 s of today's rows (the stored 2024 day must not count: it is another ops day)
    live_span = "(c => c.ceil > Date.now() / 1000 - 3600 ? c.ceil - c.floor : 0)(window.meso360.charts)"
    wait_until(lambda: page.evaluate(live_span) >= 20, 40, "20 s of live rows to zoom into")
    window = "window.meso360.charts.window()"
    full = page.evaluate(window)
    box = page.locator(".chart-temp .u-over").bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.3, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.6, y, steps=5)
    page.mouse.up()
    page.wait_for_selector("#reset-zoom", state="visible")
    zoomed = page.evaluate(window)
    assert zoomed[1] - zoomed[0] < full[1] - full[0]
    assert all(page.evaluate(f"window.meso360.charts.charts.map(c => c.u.scales.x.min === {zoomed[0]})"))
    page.mouse.move(box["x"] + box["width"] / 2, y)
    page.mouse.wheel(-200, 0)  # horizontal scroll left = earlier
    wait_until(lambda: page.evaluate(window)[0] < zoomed[0], 5, "window panned earlier")
    panned = page.evaluate(window)
    assert panned[0] >= full[0] - 1e-6, "panned past the start of the data"
    page.dblclick(".chart-temp .u-over")
    page.wait_for_selector("#reset-zoom", state="hidden")
    assert page.evaluate("window.meso360.charts.zoomed") is None


def test_status_dot_goes_stale_when_rows_stop_and_live_when_they_return(page_on, stack):
    page = page_on(f"/view?stale_s={STALE_S}")
    page.wait_for_selector("#conn-dot.dot-live")
    stack["ingest"].stop()
    page.wait_for_selector("#conn-dot.dot-stale", timeout=(STALE_S + 15) * 1000)
    assert "No new data for 4s" in page.inner_text("#status-msg")
    screenshot(page, "dashboard-stale")
    ingest = IngestProcess(stack["ingest_config"], stack["base"] / "ingest-2.log")
    stack["running"].append(ingest)
    page.wait_for_selector("#conn-dot.dot-live", timeout=30000)
    state = json.loads(page.evaluate("JSON.stringify(window.meso360.buffer.points.map(p => p.id))"))
    assert len(set(state)) == len(state)
