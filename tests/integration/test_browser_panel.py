"""The control panel's System card and Quick Links in a real headless Chromium, against the real web daemon.

The web daemon runs on loopback with a config holding every value the System card summarises (logger, listen,
data directory, tunnel port, mDNS name) and secrets that must never reach the browser. No simulator: the card
shows configuration and the machine's uptime, not observations; one stored day gives the download picker a day.
"""

import re
import time

import pytest
import requests
from browser_helpers import PageErrors, browser, screenshot, wait_until  # noqa: F401 (the fixture)
from web_helpers import start_web

from meso360.datafile import OBS_HEADER
from meso360.web.auth import hash_password

pytestmark = pytest.mark.browser

LOGGER_URL = "http://rackuser:rack-secret-9@127.0.0.1:9"  # never contacted: the web daemon only shows it
MDNS_NAME = "MMT rack <1> & co"
TUNNEL_HOST = "bastion.invalid"
TUNNEL_PORT = 2207
STORED_DAY = "20240102"
STORED_ROW = "4.1,180.0,10.0,50.0,10.1,2.5,60.0,950.1,90.0,020124,120000,35.2,-97.4,350.0,0.0,0.0,20.0"


@pytest.fixture(scope="module")
def web(tmp_path_factory):
    base = tmp_path_factory.mktemp("panel")
    config = (
        "[meso360]\nvehicle = MMT\n"
        f"[ingest]\nlogger_url = {LOGGER_URL}\nusername = rackuser\npassword = ingest-secret-4\n"
        f"[web]\nmdns_name = {MDNS_NAME}\npassword_hash = {hash_password('panel-operator-1')}\n"
        f"[tunnel]\nhost = {TUNNEL_HOST}\nuser = mm-tunnel\nremote_port = {TUNNEL_PORT}\n"
    )
    (base / "data").mkdir()
    (base / "data" / f"{STORED_DAY}.txt").write_text(f"{OBS_HEADER}\n{STORED_ROW}\n")
    process = start_web(base, config)
    yield process
    process.stop()


@pytest.fixture
def open_panel(browser, web):
    """Factory: open_panel(width) opens the control panel in a desktop browser window `width` px wide."""
    opened = []

    def open_page(width):
        context = browser.new_context(viewport={"width": width, "height": 900})
        context.set_default_timeout(15000)
        page = context.new_page()
        errors = PageErrors(page, web.url)
        opened.append((context, errors))
        page.goto(web.url + "/")
        return page

    yield open_page
    for context, errors in opened:
        context.close()
        assert errors.errors == [], errors.errors
        assert errors.foreign_requests == [], f"requests that left loopback: {errors.foreign_requests}"


def machine_uptime_s():
    return time.clock_gettime(time.CLOCK_BOOTTIME)


def duration_s(text):
    """Given the panel's duration text ("3d 4h 12m", "4h 12m", "12m 05s", "5s"), return seconds."""
    units = {"d": 86400, "h": 3600, "m": 60, "s": 1}
    parts = re.findall(r"(\d+)([dhms])", text)
    assert parts and " ".join(f"{n}{u}" for n, u in parts) == text, f"not a duration: {text!r}"
    return sum(int(number) * units[unit] for number, unit in parts)


def card_rows(page):
    """Return the System card as {label: value text}."""
    return page.evaluate(
        """() => Object.fromEntries([...document.querySelectorAll('#system-card .kv')].map(
             (row) => [row.children[0].textContent, row.children[1].textContent]))"""
    )


def test_status_has_a_system_block_with_uptime_and_config_and_no_secret(web):
    answer = requests.get(web.url + "/api/status", timeout=10)
    system = answer.json()["system"]
    assert abs(system["uptime_s"] - machine_uptime_s()) < 5
    assert system["config"] == {
        "logger_url": "http://127.0.0.1:9",
        "listen": "127.0.0.1:0",
        "data_dir": str(web.data_dir),
        "support_dir": str(web.support_dir),
        "tunnel_host": TUNNEL_HOST,
        "tunnel_port": TUNNEL_PORT,
        "mdns_name": MDNS_NAME,
        "mdns_url": None,  # the test daemon listens on loopback: not announced on the LAN
    }
    for secret in ("rack-secret-9", "ingest-secret-4", "scrypt$", "mm-tunnel", "tunnel_key"):
        assert secret not in answer.text


def test_the_system_card_shows_uptime_and_each_config_value(open_panel, web):
    page = open_panel(1400)
    rows = wait_until(lambda: (r := card_rows(page)).get("Listen", "--") != "--" and r, 15, "the System card filled")
    assert abs(duration_s(rows["Uptime"]) - machine_uptime_s()) < 120  # the card shows minutes beyond an hour
    assert rows["Logger"] == "http://127.0.0.1:9"
    assert rows["Listen"] == "127.0.0.1:0"
    assert rows["Data dir"] == str(web.data_dir)
    assert rows["Tunnel port"] == f"{TUNNEL_PORT} on {TUNNEL_HOST}"
    assert rows["mDNS"] == f"{MDNS_NAME} (not announced: loopback only)"  # as text: < and & are not markup
    assert rows["Vehicle"] == "MMT"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", rows["UTC"])
    assert "rack-secret-9" not in page.content()
    screenshot(page, "panel-system-card-1400")


def quick_link_boxes(page):
    """Return the card's content box and the boxes of the visible Quick Links items (x, y, right)."""
    return page.evaluate(
        """() => {
             const grid = document.getElementById('quick-links');
             const style = getComputedStyle(grid);
             const outer = grid.getBoundingClientRect();
             const items = [...grid.children].filter((item) => item.getClientRects().length > 0).map((item) => {
               const box = item.getBoundingClientRect();
               return { id: item.id || item.className, x: box.left, y: box.top, right: box.right, width: box.width };
             });
             const row = document.querySelector('.cp-left').getBoundingClientRect();
             return { left: outer.left + parseFloat(style.paddingLeft),
                      right: outer.right - parseFloat(style.paddingRight),
                      rowWidth: row.width, items, pageWidth: document.documentElement.scrollWidth };
           }"""
    )


def five_visible_links(page):
    boxes = quick_link_boxes(page)
    return boxes if len(boxes["items"]) == 5 else None  # the logger link and Download appear once known


def test_quick_links_span_the_row_at_1400_px(open_panel):
    page = open_panel(1400)
    boxes = wait_until(lambda: five_visible_links(page), 15, "dashboard, logger, restart, day picker and download")
    items = boxes["items"]
    assert boxes["right"] - boxes["left"] > 0.95 * boxes["rowWidth"]  # the card spans the panel's row
    assert len({round(item["y"]) for item in items}) == 1, items  # one row
    assert abs(items[0]["x"] - boxes["left"]) <= 1 and abs(items[-1]["right"] - boxes["right"]) <= 1, boxes
    widths = [item["width"] for item in items]
    assert min(widths) > 0.9 * max(widths)  # shared out evenly, no empty two thirds
    screenshot(page, "panel-quick-links-1400")


def test_quick_links_wrap_at_390_px(open_panel):
    page = open_panel(390)
    boxes = wait_until(lambda: five_visible_links(page), 15, "dashboard, logger, restart, day picker and download")
    items = boxes["items"]
    assert len({round(item["y"]) for item in items}) >= 3, items  # two to a row at most
    assert all(item["x"] >= boxes["left"] - 1 and item["right"] <= boxes["right"] + 1 for item in items), boxes
    assert boxes["pageWidth"] <= 390  # nothing sticks out sideways
    screenshot(page, "panel-quick-links-390")
