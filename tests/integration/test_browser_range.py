"""The dashboard's Range view in a real headless Chromium, on rows the real stack wrote across midnight.

The simulator replays the real observations from 23:12:01 on 26 November 2026 (50 minutes held, then 1 Hz), the
real ingest daemon writes them into 20261126.txt and 20261127.txt, and the real web daemon serves the dashboard.
Not real here: systemd (a fake `systemctl` first on the web daemon's PATH, as in test_browser.py).
"""

import calendar
import math
import re
import stat

import pytest
from browser_helpers import browser, screenshot, wait_until  # noqa: F401 (the fixture)
from conftest import start_simulator_process
from ingest_helpers import IngestProcess
from ingest_helpers import write_config as write_ingest_config
from test_browser import FAKE_SYSTEMCTL
from test_browser_dashboard import DESKTOP_USER_AGENT, StrictPageLog
from web_helpers import start_web

pytestmark = pytest.mark.browser

MIDNIGHT = calendar.timegm((2026, 11, 27, 0, 0, 0))
FIRST_RECORD = MIDNIGHT - 2879  # 23:12:01, the oldest of 3000 held records; the newest is 00:02:00


@pytest.fixture(scope="module")
def across_midnight(tmp_path_factory):
    """Simulator → ingest → two daily files across midnight → web, on loopback; stopped at teardown."""
    base = tmp_path_factory.mktemp("range")
    fake_bin = base / "bin"
    fake_bin.mkdir()
    systemctl = fake_bin / "systemctl"
    systemctl.write_text(FAKE_SYSTEMCTL)
    systemctl.chmod(systemctl.stat().st_mode | stat.S_IXUSR)
    running = []
    try:
        sim = start_simulator_process(base, rate=1, prefill=3000, start_time="2026-11-27T00:02:00Z")
        running.append(sim)
        ingest_config = write_ingest_config(base, sim.url, first_start="all")  # the held records too
        ingest = IngestProcess(ingest_config, base / "ingest.log")
        running.append(ingest)
        data_dir = base / "data"
        wait_until(lambda: (data_dir / "20261127.txt").is_file(), 60, "ingest wrote the day after midnight")
        assert (data_dir / "20261126.txt").is_file()
        env = {"PATH": f"{fake_bin}:/usr/bin:/bin", "FAKE_SYSTEMCTL_LOG": str(base / "systemctl.log")}
        web = start_web(base / "web", f"[meso360]\nvehicle = MMR\ndata_dir = {data_dir}\n", env=env)
        running.append(web)
        yield {"web": web, "data_dir": data_dir}
    finally:
        for process in reversed(running):
            process.stop()


@pytest.fixture
def dashboard(browser, across_midnight):  # noqa: F811
    context = browser.new_context(viewport={"width": 1400, "height": 900}, user_agent=DESKTOP_USER_AGENT)
    context.set_default_timeout(15000)
    page = context.new_page()
    log = StrictPageLog(page, across_midnight["web"].url)
    page.goto(across_midnight["web"].url + "/view")
    page.wait_for_selector("#conn-dot.dot-live")
    wait_until(lambda: page.evaluate("window.meso360.charts.pointCount()") > 0, 30, "the live window drawn")
    yield page
    context.close()
    assert log.errors == [], log.errors
    assert log.foreign_requests == [], f"requests that left loopback: {log.foreign_requests}"


def shown_range(page):
    return page.evaluate(
        """() => { const m = window.meso360; const pts = m.dayView ? m.dayView.points : [];
            return {window: m.charts.window(), xs: m.charts.charts.map(c => [c.u.scales.x.min, c.u.scales.x.max]),
                    first: pts.length ? pts[0].ts : null, last: pts.length ? pts[pts.length - 1].ts : null,
                    count: pts.length, mapLabel: m.map.label, mapPoints: m.map.points === pts,
                    mapWindow: m.map.timeWindow ? m.map.timeWindow() : null}; }"""
    )


def test_last_24_hours_spans_both_daily_files_on_every_chart(dashboard, across_midnight):
    page = dashboard
    page.select_option("#day-select", "range")
    page.wait_for_selector("#range-form", state="visible")
    newest = page.evaluate("window.meso360.buffer.latest().ts")
    page.click("#range-24h")
    wait_until(lambda: "Viewing" in page.inner_text("#day-banner"), 30, "the range loaded")
    shown = shown_range(page)
    to = (newest // 60 + 1) * 60
    assert shown["window"] == [to - 86400, to]
    assert all(x == [to - 86400, to] for x in shown["xs"])  # every chart's x window: the range, over midnight
    assert FIRST_RECORD <= shown["first"] < MIDNIGHT <= shown["last"] < to  # rows of both files drawn
    # the track map: the same points, labelled with the range, dimmed outside the charts' window (the range)
    assert shown["mapPoints"] and shown["mapWindow"] == [to - 86400, to]
    assert shown["mapLabel"] == page.inner_text("#day-banner").split("Viewing ")[1].split(" (UTC)")[0]
    drawn, total = map(int, re.search(r"· (\d+) of (\d+) rows drawn", page.inner_text("#day-banner")).groups())
    # reduced on the server as a day is: buckets of 16 rows (the smallest), a minimum and a maximum each
    assert drawn == shown["count"] and 2 * math.ceil(total / 16) - 1 <= drawn <= 2 * math.ceil(total / 16)
    rows = sum(1 for path in across_midnight["data_dir"].glob("2026112?.txt") for _ in open(path)) - 2
    assert 3000 < total <= rows <= total + 5  # every row written until the request (a few more land meanwhile)
    assert page.input_value("#range-to")[:10] == "2026-11-27"
    assert page.input_value("#range-from")[:10] == "2026-11-26"
    screenshot(page, "dashboard-range-24h")
    page.click("#live-btn")
    assert not page.is_visible("#range-form")
    assert not page.is_visible("#day-banner")


def test_a_range_typed_in_utc_draws_every_row_of_it(dashboard):
    page = dashboard
    page.select_option("#day-select", "range")
    page.fill("#range-from", "2026-11-27T00:01")
    page.fill("#range-to", "2026-11-26T23:58")
    page.click("#range-show")
    assert "before" in page.inner_text("#range-message")  # refused in the page: no request
    page.fill("#range-from", "2026-11-26T23:58")
    page.fill("#range-to", "2026-11-27T00:01")
    page.click("#range-show")
    wait_until(lambda: "Viewing 2026-11-26 23:58 – 2026-11-27 00:01" in page.inner_text("#day-banner"), 30, "loaded")
    shown = shown_range(page)
    assert shown["window"] == [MIDNIGHT - 120, MIDNIGHT + 60]
    assert (shown["count"], shown["first"], shown["last"]) == (180, MIDNIGHT - 120, MIDNIGHT + 59)
    assert "180 of 180 rows drawn" in page.inner_text("#day-banner")
