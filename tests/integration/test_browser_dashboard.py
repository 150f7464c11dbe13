"""The dashboard's zoom, layout, chart corners, icon and units in a real headless Chromium (and Firefox), exactly.

The stack is the one of test_browser.py (simulator → ingest → web on loopback, fake systemctl); every page here
is opened with a desktop user agent, and any console error, failed request or request off loopback fails a test.
"""

import datetime as dt
import struct
from zoneinfo import ZoneInfo

import pytest
import requests
from browser_helpers import ARTIFACTS_DIR, run_firefox_script, screenshot, wait_until
from test_browser import STORED_DAY, browser, stack, stored_day_rows  # noqa: F401 (fixtures)

from meso360.datafile import OBS_COLUMNS

pytestmark = pytest.mark.browser

DESKTOP_USER_AGENT = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
)
ZONE = "America/Chicago"
HPA_PER_INHG = 33.8638866667


class StrictPageLog:
    """Every page error, console error, failed or >= 400 answer, and request off loopback: nothing is filtered."""

    def __init__(self, page, base_url):
        self.errors = []
        self.foreign_requests = []
        self.finished = []
        page.on("pageerror", lambda error: self.errors.append(f"pageerror: {error}"))
        page.on("console", lambda msg: msg.type == "error" and self.errors.append(f"console: {msg.text}"))
        page.on("requestfailed", self._failed)
        page.on("response", lambda answer: answer.status >= 400 and self.errors.append(f"{answer.status} {answer.url}"))
        page.on("requestfinished", lambda request: self.finished.append(request.url))
        page.on("request", lambda request: self._request(request, base_url))

    def _failed(self, request):
        # a navigation or a closed page aborts the open event stream: not an error of the page
        if request.failure != "net::ERR_ABORTED":
            self.errors.append(f"request failed: {request.url} ({request.failure})")

    def _request(self, request, base_url):
        url = request.url
        if not (url.startswith(base_url) or url.startswith("data:") or url.startswith("blob:")):
            self.foreign_requests.append(url)


@pytest.fixture
def open_page(browser, stack):  # noqa: F811
    """Factory: open_page(path, width, height, **context options) with a desktop user agent and a strict log."""
    opened = []

    def open_(path, width=1400, height=900, **options):
        context = browser.new_context(
            viewport={"width": width, "height": height}, user_agent=DESKTOP_USER_AGENT, locale="en-US", **options
        )
        context.set_default_timeout(15000)
        page = context.new_page()
        page.log = StrictPageLog(page, stack["web"].url)
        opened.append((context, page.log))
        page.goto(stack["web"].url + path)
        return page

    yield open_
    for context, log in opened:
        context.close()
        assert log.errors == [], log.errors
        assert log.foreign_requests == [], f"requests that left loopback: {log.foreign_requests}"


def live_dashboard(page):
    page.wait_for_selector("#conn-dot.dot-live")
    wait_until(lambda: page.evaluate("window.meso360.charts.pointCount()") > 0, 20, "history drawn")


X_RANGES = "window.meso360.charts.charts.map(c => [c.def.key, c.u.scales.x.min, c.u.scales.x.max])"


def drag_select(page, chart_index, start_fraction, end_fraction):
    """Drag across chart `chart_index` between two fractions of its plot width (whole pixels); return the window
    [min, max] those pixels showed before the drag and the time one pixel spans."""
    plot = page.evaluate(
        """(i) => { const u = window.meso360.charts.charts[i].u; const r = u.over.getBoundingClientRect();
            return {left: r.left, top: r.top, width: r.width, height: r.height}; }""",
        chart_index,
    )
    x0 = round(plot["width"] * start_fraction)
    x1 = round(plot["width"] * end_fraction)
    expected = page.evaluate(
        """([i, x0, x1]) => { const u = window.meso360.charts.charts[i].u;
            const pixelS = (u.scales.x.max - u.scales.x.min) / (u.bbox.width / devicePixelRatio);
            return [u.posToVal(x0, 'x'), u.posToVal(x1, 'x'), pixelS]; }""",
        [chart_index, x0, x1],
    )
    y = plot["top"] + plot["height"] / 2
    page.mouse.move(plot["left"] + x0, y)
    page.mouse.down()
    page.mouse.move(plot["left"] + (x0 + x1) / 2, y, steps=4)
    page.mouse.move(plot["left"] + x1, y, steps=4)
    page.mouse.up()
    return expected[:2], expected[2]


def test_drag_zoom_shows_exactly_the_selected_window_on_every_chart(open_page):
    page = open_page("/view")
    live_dashboard(page)
    # a minute of today's rows, so two zooms stay above the 5-s minimum window
    live_span = "(c => c.ceil > Date.now() / 1000 - 3600 ? c.ceil - c.floor : 0)(window.meso360.charts)"
    wait_until(lambda: page.evaluate(live_span) >= 60, 90, "a minute of live rows to zoom into")
    page.click("#pause-btn")  # the window stops following new rows, so the pixels keep their times
    full = page.evaluate("window.meso360.charts.window()")

    # the first chart, 25 %..65 % of its width: the window becomes exactly those 40 % (not 40 % cubed, as when
    # every synced chart applied the selection again)
    (lo, hi), pixel_s = drag_select(page, 0, 0.25, 0.65)
    page.wait_for_selector("#reset-zoom", state="visible")
    window = page.evaluate("window.meso360.charts.window()")
    assert window[0] == pytest.approx(lo, abs=pixel_s) and window[1] == pytest.approx(hi, abs=pixel_s)
    assert (window[1] - window[0]) / (full[1] - full[0]) == pytest.approx(0.4, abs=0.01)
    ranges = page.evaluate(X_RANGES)
    assert len(ranges) == 3
    for key, x_min, x_max in ranges:
        assert x_min == pytest.approx(lo, abs=pixel_s), (key, x_min, lo)
        assert x_max == pytest.approx(hi, abs=pixel_s), (key, x_max, hi)

    # again on the last chart (pressure), inside the zoomed window: 20 %..70 % of it
    (lo2, hi2), pixel_s2 = drag_select(page, 2, 0.2, 0.7)
    wait_until(lambda: page.evaluate("window.meso360.charts.window()")[0] > window[0] + pixel_s, 5, "second zoom")
    ranges = page.evaluate(X_RANGES)
    for key, x_min, x_max in ranges:
        assert x_min == pytest.approx(lo2, abs=pixel_s2), (key, x_min, lo2)
        assert x_max == pytest.approx(hi2, abs=pixel_s2), (key, x_max, hi2)
    assert (hi2 - lo2) / (window[1] - window[0]) == pytest.approx(0.5, abs=0.02)

    page.dblclick(".chart-temp .u-over")
    page.wait_for_selector("#reset-zoom", state="hidden")
    assert page.evaluate("window.meso360.charts.window()") == pytest.approx(full)


def overflowing_elements(page):
    """Elements (outside the charts' own clipped canvases) that stick out of the window sideways."""
    return page.evaluate(
        """() => { const w = document.documentElement.clientWidth; const out = [];
            for (const n of document.body.querySelectorAll('*')) {
              if (n.closest('.uplot') && !n.classList.contains('uplot')) continue;
              const r = n.getBoundingClientRect();
              if (r.width === 0 && r.height === 0) continue;
              if (r.left < -0.5 || r.right > w + 0.5) out.push(`${n.tagName}.${n.className} ${r.left}..${r.right}`);
            }
            return out; }"""
    )


LAYOUT = """() => {
    const rect = (n) => { const r = n.getBoundingClientRect();
      return {left: r.left, right: r.right, top: r.top, bottom: r.bottom, width: r.width, height: r.height}; };
    return {
      narrow: document.documentElement.classList.contains('layout-narrow'),
      cards: [...document.querySelectorAll('.chart-card')].map(rect),
      canvases: window.meso360.charts.charts.map(c => ({key: c.def.key, width: c.u.width, wrap: c.wrap.clientWidth,
        plot: c.u.bbox.height / (window.devicePixelRatio || 1)})),
      charts: rect(document.getElementById('charts')),
      map: rect(document.getElementById('track-map')),
      sidebar: rect(document.getElementById('sidebar')),
      scrollWidth: document.documentElement.scrollWidth,
      clientWidth: document.documentElement.clientWidth,
      scrollHeight: document.documentElement.scrollHeight,
      innerHeight: window.innerHeight,
    };
}"""


MIN_PLOT_PX = 100  # a chart's plot area (inside its axes): the map's row in the window once left it 40 px at 1400 x 900


@pytest.mark.parametrize(
    ("width", "height", "narrow", "charts", "min_chart_px"),
    [(390, 844, True, 4, 340), (768, 1024, False, 3, 450), (1366, 768, False, 3, 650), (1400, 900, False, 3, 650)],
)
def test_layout_follows_the_window_width_not_the_user_agent(open_page, width, height, narrow, charts, min_chart_px):
    page = open_page("/view", width, height)
    live_dashboard(page)
    layout = page.evaluate(LAYOUT)
    assert layout["narrow"] is narrow
    assert len(layout["canvases"]) == charts
    for chart in layout["canvases"]:
        assert chart["width"] >= min_chart_px, chart  # ~110 px when a desktop UA got the wide layout at 390 px
        assert chart["width"] == chart["wrap"], chart  # the chart fills its card
        assert chart["plot"] >= MIN_PLOT_PX, chart
    assert layout["scrollWidth"] <= layout["clientWidth"] == width
    assert overflowing_elements(page) == []
    if narrow:
        # one column: the charts above the sidebar, each chart 280 px tall, the page scrolls
        assert layout["sidebar"]["top"] >= layout["charts"]["bottom"]
        assert {round(card["height"]) for card in layout["cards"]} == {280}
        assert all(card["left"] == pytest.approx(layout["cards"][0]["left"]) for card in layout["cards"])
        assert layout["scrollHeight"] > layout["innerHeight"]
    elif width < 1200:
        # charts beside a 240-px sidebar, filling the window's height; the map under them, one scroll away
        assert layout["sidebar"]["left"] >= layout["charts"]["right"]
        assert layout["sidebar"]["width"] == pytest.approx(240)
        assert layout["charts"]["bottom"] <= layout["innerHeight"]
        assert layout["map"]["top"] >= layout["charts"]["bottom"] and layout["map"]["height"] >= 0.5 * height
    else:
        # charts | map | 240-px sidebar, all in the window: no page scroll
        assert layout["charts"]["right"] <= layout["map"]["left"] < layout["map"]["right"] <= layout["sidebar"]["left"]
        assert layout["map"]["width"] >= 280 and layout["map"]["height"] == pytest.approx(layout["charts"]["height"])
        assert layout["sidebar"]["width"] == pytest.approx(240)
        assert layout["scrollHeight"] <= layout["innerHeight"]
    screenshot(page, f"dashboard-{width}")
    if width == 1400:
        # the layout follows a resize at once (a tablet going into split view)
        page.set_viewport_size({"width": 390, "height": 844})
        wait_until(lambda: page.evaluate("window.meso360.charts.charts.length") == 4, 5, "one-column layout")
        assert page.evaluate(LAYOUT)["narrow"] is True
        assert all(chart["width"] >= 340 for chart in page.evaluate(LAYOUT)["canvases"])
        assert overflowing_elements(page) == []


CORNER_PX = 10


def corner_offenders(page):
    """Small visible elements inside the top-left CORNER_PX square of any chart's plot area."""
    return page.evaluate(
        """(size) => { const out = [];
            for (const {def, u} of window.meso360.charts.charts) {
              const o = u.over.getBoundingClientRect();
              for (const n of u.root.querySelectorAll('*')) {
                const s = getComputedStyle(n);
                if (s.display === 'none' || s.visibility === 'hidden' || s.opacity === '0') continue;
                const r = n.getBoundingClientRect();
                if (r.width === 0 && r.height === 0) continue;
                const inCorner = r.right > o.left && r.left < o.left + size && r.bottom > o.top && r.top < o.top + size;
                const small = r.width < 20 || r.height < 20;
                if (inCorner && small) out.push(`${def.key}: ${n.className} ${r.width}x${r.height}`);
              }
            }
            return out; }""",
        CORNER_PX,
    )


def corner_pixels(page):
    """PNG of the top-left corner of every chart's plot area, as the screen shows it."""
    boxes = page.evaluate(
        "window.meso360.charts.charts.map(c => { const r = c.u.over.getBoundingClientRect(); "
        "return {x: r.left, y: r.top}; })"
    )
    return [
        page.screenshot(clip={"x": box["x"], "y": box["y"], "width": CORNER_PX, "height": CORNER_PX}) for box in boxes
    ]


def test_no_stray_dot_in_the_top_left_corner_of_any_chart(open_page):
    page = open_page("/view")
    live_dashboard(page)
    page.click("#pause-btn")  # still canvases: only the overlays can change a pixel
    page.mouse.move(1, 1)  # away from the charts (cursor hidden)
    assert corner_offenders(page) == []
    # The corners as shown, against the same corners with uPlot's overlays (selection, cursor) hidden: a drawn
    # overlay (the 2×2 px dot of the empty selection box) would change a pixel.
    shown = corner_pixels(page)
    overlays = "document.querySelectorAll('.uplot .u-over > *').forEach(n => { n.style.visibility = '%s'; })"
    page.evaluate(overlays % "hidden")
    assert corner_pixels(page) == shown
    page.evaluate(overlays % "")
    # after a drag zoom (the selection is emptied to 0×0 at 0,0 again) and its reset
    drag_select(page, 0, 0.3, 0.6)
    page.wait_for_selector("#reset-zoom", state="visible")
    page.mouse.move(1, 1)
    assert corner_offenders(page) == []
    page.dblclick(".chart-temp .u-over")
    page.mouse.move(1, 1)
    assert corner_offenders(page) == []


def png_size(data):
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", data[16:24])


def test_favicon_manifest_and_icons_are_served(stack):  # noqa: F811
    base = stack["web"].url
    favicon = requests.get(base + "/favicon.ico", timeout=5)
    assert favicon.status_code == 200
    assert favicon.headers["Content-Type"].startswith("image/")
    count = struct.unpack("<HHH", favicon.content[:6])
    assert count[:2] == (0, 1) and count[2] >= 2  # an icon resource with several sizes
    sizes = {favicon.content[6 + 16 * i] or 256 for i in range(count[2])}
    assert {16, 32} <= sizes

    answer = requests.get(base + "/manifest.webmanifest", timeout=5)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("application/manifest+json")
    manifest = answer.json()
    assert manifest["start_url"] == "/view" and manifest["display"] == "standalone"
    assert manifest["name"] and manifest["short_name"] and manifest["theme_color"].startswith("#")
    declared = set()
    for icon in manifest["icons"]:
        served = requests.get(base + icon["src"], timeout=5)
        assert served.status_code == 200, icon
        assert served.headers["Content-Type"].startswith(icon["type"]), icon
        if icon["type"] == "image/png":
            width, height = png_size(served.content)
            assert icon["sizes"] == f"{width}x{height}", icon
            declared.add((icon["sizes"], icon.get("purpose", "any")))
        else:
            assert b"<svg" in served.content
    assert {("192x192", "any"), ("512x512", "any"), ("512x512", "maskable")} <= declared
    apple = requests.get(base + "/static/apple-touch-icon.png", timeout=5)
    assert png_size(apple.content) == (180, 180)


@pytest.mark.parametrize("path", ["/", "/view"])
def test_pages_load_with_no_console_error_and_link_their_icons(open_page, path):
    page = open_page(path)
    page.wait_for_load_state("load")
    # Chromium fetches the page's icon by itself (it asked for /favicon.ico, a 404, before there was one);
    # page.title() lets Playwright deliver the page's events while we wait
    wait_until(lambda: page.title() and any("/static/icon.svg" in url for url in page.log.finished), 10, "icon fetched")
    links = page.evaluate(
        """async () => { const out = {};
            for (const rel of ['icon', 'apple-touch-icon', 'manifest']) {
              for (const link of document.querySelectorAll(`link[rel="${rel}"]`)) {
                const answer = await fetch(link.href);
                out[`${rel} ${new URL(link.href).pathname}`] = [answer.status, answer.headers.get('Content-Type')];
              }
            }
            return out; }"""
    )
    assert links == {
        "icon /favicon.ico": [200, "image/x-icon"],
        "icon /static/icon.svg": [200, "image/svg+xml"],
        "apple-touch-icon /static/apple-touch-icon.png": [200, "image/png"],
        "manifest /manifest.webmanifest": [200, "application/manifest+json"],
    }
    if path == "/view":
        live_dashboard(page)
    else:
        page.wait_for_selector("#component-sim")
    assert page.log.errors == []


def test_units_module_converts_and_formats_exactly(open_page):
    page = open_page("/view")
    results = page.evaluate(
        """() => { const U = window.Meso360Units;
            return {
              kt: U.convert('wind', 10, 'kt'), mph: U.convert('wind', 10, 'mph'), f: U.convert('temperature', 100, 'F'),
              inhg: U.convert('pressure', 1013.25, 'inHg'), ft: U.convert('altitude', 1000, 'ft'),
              back: ['wind', 'temperature', 'pressure', 'altitude'].map(q => {
                const other = U.QUANTITIES[q][1];
                return U.toBase(q, U.convert(q, 12.5, other), other); }),
              missing: [U.convert('wind', null), U.format('wind', null), U.format('pressure', NaN)],
              formats: [U.format('wind', 10, {unit: 'kt'}), U.format('temperature', 20, {unit: 'F'}),
                        U.format('pressure', 1013.25, {unit: 'inHg'}), U.format('altitude', 100, {unit: 'ft'}),
                        U.format('wind', 10, {unit: 'm/s'}), U.format('temperature', 20, {unit: 'C', withUnit: false})],
              time: [U.formatTime(0, {zone: 'UTC'}), U.formatTime(90061, {zone: 'UTC', date: true}),
                     U.formatTime(null)],
              defaults: U.get(), bogus: U.set('wind', 'furlongs/fortnight').wind,
            }; }"""
    )
    assert results["kt"] == pytest.approx(10 * 3600 / 1852)
    assert results["mph"] == pytest.approx(10 * 3600 / 1609.344)
    assert results["f"] == pytest.approx(212)
    assert results["inhg"] == pytest.approx(29.9213, abs=1e-4)
    assert results["ft"] == pytest.approx(3280.84, abs=1e-2)
    assert results["back"] == pytest.approx([12.5] * 4)
    assert results["missing"] == [None, "--", "--"]
    assert results["formats"] == ["19.4 kt", "68.00 °F", "29.921 inHg", "328.1 ft", "10.00 m/s", "20.00"]
    assert results["time"] == ["00:00:00", "1970-01-02 01:01:01", "--:--:--"]
    assert results["defaults"] == {"wind": "m/s", "temperature": "C", "pressure": "hPa", "altitude": "m", "time": "UTC"}
    assert results["bogus"] == "m/s"


CURRENT = """() => { const d = window.meso360; const p = d.sidebar.current;
    const text = (id) => document.getElementById(id).textContent;
    return {id: p.id, ts: p.ts, wspd: text('obs-cur-wspd'), t: text('obs-cur-t'), td: text('obs-cur-td'),
            pressure: text('obs-cur-pressure'), alt: text('obs-cur-alt'), last: text('obs-last'),
            lastTs: d.buffer.latest().ts}; }"""


def test_units_chosen_in_the_menu_are_kept_and_applied_to_cards_charts_and_hover_labels(open_page, stack):  # noqa: F811
    zone = ZoneInfo(ZONE)
    page = open_page("/view", timezone_id=ZONE)
    live_dashboard(page)
    page.click("#units-btn")
    for choice in ("wind-kt", "temperature-F", "pressure-inHg", "altitude-ft", "time-local"):
        page.check(f"#units-{choice}")
    screenshot(page, "dashboard-units-menu")
    page.reload()
    live_dashboard(page)
    chosen = {"wind": "kt", "temperature": "F", "pressure": "inHg", "altitude": "ft", "time": "local"}
    assert page.evaluate("window.Meso360Units.get()") == chosen
    page.click("#units-btn")
    checked = page.evaluate("[...document.querySelectorAll('#units-menu input:checked')].map(i => i.id)")
    assert checked == [
        "units-wind-kt",
        "units-temperature-F",
        "units-pressure-inHg",
        "units-altitude-ft",
        "units-time-local",
    ]
    page.keyboard.press("Escape")
    assert page.get_attribute("#unit-f", "aria-pressed") == "true"  # the °C/°F shortcut shows the same choice

    # the Current card, against the row as the server holds it (base units)
    shown = page.evaluate(CURRENT)
    history = requests.get(stack["web"].url + "/api/history", timeout=5).json()["points"]
    row = {key: history[key][history["id"].index(shown["id"])] for key in history}
    assert shown["wspd"] == f"{row['wspd'] * 3600 / 1852:.1f} kt"
    assert shown["t"] == f"{row['t'] * 9 / 5 + 32:.2f} °F"
    assert shown["td"] == f"{row['td'] * 9 / 5 + 32:.2f} °F"
    assert shown["pressure"] == f"{row['pressure'] / HPA_PER_INHG:.3f} inHg"
    assert shown["alt"] == f"{row['alt'] / 0.3048:.1f} ft"
    local = dt.datetime.fromtimestamp(shown["lastTs"], zone)
    assert shown["last"] == f"{local:%H:%M:%S} {local.tzname()}"
    assert page.inner_text("#last-update").endswith(f" {local.tzname()}")

    # the charts, on the stored day whose rows are known
    page.select_option("#day-select", f"{STORED_DAY:%Y%m%d}")
    wait_until(lambda: "Viewing 2024-01-02" in page.inner_text("#day-banner"), 15, "stored day loaded")
    charts = page.evaluate(
        """() => Object.fromEntries(window.meso360.charts.charts.map(({def, u}) => [def.key, {
            labels: u.axes.map(a => a.label), data: u.data.map(s => s.slice(0, 301)), scales: u.scales,
            ticks: u.axes.map(a => [a._splits, a._values]), }]))"""
    )
    rows = [dict(zip(OBS_COLUMNS, line.split(","), strict=True)) for line in stored_day_rows()]
    assert charts["temp"]["labels"][1] == "°F"
    assert charts["wind"]["labels"][1] == "kt"
    assert charts["pressure"]["labels"][1] == "inHg"
    for i in (0, 150, 299):
        assert charts["temp"]["data"][1][i] == pytest.approx(float(rows[i]["t_fast"]) * 9 / 5 + 32)
        assert charts["wind"]["data"][1][i] == pytest.approx(float(rows[i]["sfc_wspd"]) * 3600 / 1852)
        assert charts["pressure"]["data"][1][i] == pytest.approx(950.10 / HPA_PER_INHG)
    # the pressure axis spans the 10-hPa minimum around 950.1 hPa, in inHg
    assert charts["pressure"]["scales"]["y"]["min"] == pytest.approx(945.1 / HPA_PER_INHG)
    assert charts["pressure"]["scales"]["y"]["max"] == pytest.approx(955.1 / HPA_PER_INHG)
    # wind axis: max 6.00 m/s = 11.66 kt, padded 15 % → 13.41, four nice steps of 5 kt (it was 0..10 in m/s)
    assert max(float(r["sfc_wspd"]) for r in rows) == 6.0
    assert charts["wind"]["ticks"][1][1] == [0, 5, 10, 15, 20]
    # the time axis in Chicago time (12:00Z is 06:00 CST), without the Z of UTC
    splits, labels = charts["temp"]["ticks"][0]
    assert len(splits) >= 3
    for split, label in zip(splits, labels, strict=True):
        when = dt.datetime.fromtimestamp(split, zone)
        assert label == (f"{when:%H:%M}" if when.second == 0 else f"{when:%S}\n{when:%H:%M}"), (split, label)
    assert "06:00" in labels  # 12:00Z
    # the hover label: the cursor on row 150 (12:02:30Z)
    hover = page.evaluate(
        """() => { const {u} = window.meso360.charts.charts[0];
            u.setCursor({left: u.valToPos(u.data[0][150], 'x'), top: 10});
            return [...u.root.querySelectorAll('.u-legend .u-series')].map(n =>
              [n.querySelector('.u-label').textContent, n.querySelector('.u-value').textContent]); }"""
    )
    t150 = float(rows[150]["t_fast"]) * 9 / 5 + 32
    assert hover[0] == ["CST", "2024-01-02 06:02:30"]
    assert hover[1] == ["T", f"{t150:.2f} °F"]
    screenshot(page, "dashboard-units-day")


def test_dashboard_zoom_layout_and_icon_in_firefox(stack, tmp_path):  # noqa: F811
    options = {"web": stack["web"].url, "timeoutMs": 30000}
    outcome = run_firefox_script("firefox_dashboard_check.mjs", options, tmp_path, timeout_s=240)
    assert outcome["failure"] is None, outcome["failure"]
    assert outcome["errors"] == [], outcome["errors"]
    assert outcome["foreignRequests"] == [], outcome["foreignRequests"]
    checks = outcome["checks"]
    assert checks["browserVersion"].lower().startswith("firefox")
    assert "Firefox" in checks["userAgent"] and "Mobile" not in checks["userAgent"]

    # drag zoom: the selected window on every chart, within a pixel
    zoom = checks["zoom"]
    pixel_s = zoom["pixelS"]
    assert len(zoom["ranges"]) == 3
    for key, x_min, x_max in zoom["ranges"]:
        assert x_min == pytest.approx(zoom["expected"][0], abs=pixel_s), key
        assert x_max == pytest.approx(zoom["expected"][1], abs=pixel_s), key
    assert (zoom["expected"][1] - zoom["expected"][0]) / (zoom["full"][1] - zoom["full"][0]) == pytest.approx(
        0.4, abs=0.01
    )

    # layout by width with Firefox's desktop user agent
    for width, narrow, charts, min_px in ((390, True, 4, 340), (768, False, 3, 450), (1400, False, 3, 650)):
        layout = checks["layout"][str(width)]
        assert layout["narrow"] is narrow, width
        assert len(layout["widths"]) == charts, width
        assert min(layout["widths"]) >= min_px, (width, layout["widths"])
        assert layout["scrollWidth"] <= width, (width, layout["scrollWidth"])
        assert layout["overflowing"] == [], (width, layout["overflowing"])
        assert (ARTIFACTS_DIR / f"firefox-dashboard-{width}.png").stat().st_size > 10000

    # the icon, the manifest and its icons; no console error on / and /view (nothing filtered)
    assert checks["favicon"] == [200, "image/x-icon"]
    assert checks["manifest"]["start_url"] == "/view" and checks["manifest"]["display"] == "standalone"
    assert checks["manifestIcons"] and all(status == 200 for status in checks["manifestIcons"].values())
    assert checks["pagesLoaded"] == ["/", "/view"]
