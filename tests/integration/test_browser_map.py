"""The track map (map.js) in a real headless Chromium, on the real web daemon over loopback.

The data directory holds two days made of the real observations in test_data/test.txt: the file itself as
2025-06-05 (a drive in west Texas, 33.2° N 102.3° W), which is also the live window (the newest file), and the
same rows moved to 48° N 8° E and dated 2024-03-01 (a track outside the US). The map draws on a canvas;
map.js exposes what it drew (projected track, layer pixel bounds, colours) through container.trackMap.debug().
"""

import datetime as dt
import math
import time
from pathlib import Path

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
from web_helpers import start_web

from meso360.datafile import OBS_COLUMNS

pytestmark = pytest.mark.browser

TEST_DATA = Path(__file__).resolve().parents[2] / "test_data" / "test.txt"
TEXAS_DAY = "20250605"
ABROAD_DAY = "20240301"
ABROAD_EVERY = 7  # every 7th row: the whole drive in about 3100 rows
ABROAD_SHIFT = (15.0, 110.0)  # degrees added to lat, lon: west Texas -> the upper Rhine valley
LAT = OBS_COLUMNS.index("lat")
LON = OBS_COLUMNS.index("lon")
GPS_DATE = OBS_COLUMNS.index("gps_date")
# us-atlas 3 ids are FIPS codes: 48445 is Terry County, Texas
TERRY_COUNTY_FIPS = "48445"
# trackstyle.js RAMP: the colours a track segment can have (NO_VALUE_COLOR for a point without the variable)
RAMP = ["#30123b", "#4662d7", "#36aaf9", "#1ae4b6", "#72fe5e", "#c8ef34", "#faba39", "#f66b19", "#ca2a04", "#7a0403"]


def abroad_rows(lines):
    """Every ABROAD_EVERY-th row moved by ABROAD_SHIFT and dated ABROAD_DAY (DDMMYY)."""
    rows = []
    date = dt.datetime.strptime(ABROAD_DAY, "%Y%m%d").strftime("%d%m%y")  # noqa: DTZ007  a calendar date, no zone
    for line in lines[::ABROAD_EVERY]:
        cells = line.split(",")
        cells[LAT] = f"{float(cells[LAT]) + ABROAD_SHIFT[0]:.5f}"
        cells[LON] = f"{float(cells[LON]) + ABROAD_SHIFT[1]:.5f}"
        cells[GPS_DATE] = date
        rows.append(",".join(cells))
    return rows


@pytest.fixture(scope="module")
def web(tmp_path_factory):
    """The web daemon over a data directory holding the Texas day and the day abroad; stopped at teardown."""
    base = tmp_path_factory.mktemp("map")
    data_dir = base / "data"
    data_dir.mkdir()
    text = TEST_DATA.read_text()
    header, *lines = text.strip().splitlines()
    (data_dir / f"{TEXAS_DAY}.txt").write_text(text)
    (data_dir / f"{ABROAD_DAY}.txt").write_text(header + "\n" + "\n".join(abroad_rows(lines)) + "\n")
    process = start_web(base, f"[meso360]\nvehicle = MMT\ndata_dir = {data_dir}\n")
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
def open_page(browser, web):
    """Factory: open_page(path) opens a page at 1440×900; at the end, no page errors and no request off loopback."""
    opened = []

    def opener(path, mobile=False):
        if mobile:
            context = browser.new_context(
                viewport=MOBILE_VIEWPORT, user_agent=MOBILE_USER_AGENT, is_mobile=True, has_touch=True
            )
        else:
            context = browser.new_context(viewport={"width": 1440, "height": 900})
        context.set_default_timeout(20000)
        page = context.new_page()
        errors = PageErrors(page, web.url)
        opened.append((context, errors))
        page.goto(web.url + path)
        return page

    yield opener
    for context, errors in opened:
        context.close()
        assert errors.errors == [], errors.errors
        assert errors.foreign_requests == [], f"requests that left loopback: {errors.foreign_requests}"


def debug(page, container="track-map"):
    return page.evaluate(
        "(id) => { const m = document.getElementById(id).trackMap; return m ? m.debug() : null; }", container
    )


def day_points(web, day, points=2000):
    """The points /api/history/<day> sends the dashboard (at most 2000, 1000 on a phone: as the dashboard asks)."""
    columns = requests.get(f"{web.url}/api/history/{day}?points={points}", timeout=30).json()["points"]
    keys = [key for key in columns if isinstance(columns[key], list)]
    return [dict(zip(keys, values, strict=True)) for values in zip(*(columns[key] for key in keys), strict=True)]


def show_day(page, day):
    """Pick `day` in the dashboard's day menu; return the map's debug once it shows that day's track."""
    label = f"{day[:4]}-{day[4:6]}-{day[6:]}"
    wait_until(lambda: page.locator(f"#day-select option[value='{day}']").count() == 1, 20, f"{day} in the day menu")
    page.select_option("#day-select", day)

    def drawn():
        state = debug(page)
        return state if state and state["label"] == label and state["atlasLoaded"] and state["track"] else None

    return wait_until(drawn, 30, f"the map drawing the track of {day}")


def hover_near(page, index, offset=(3, 2)):
    """Hover `offset` CSS px from the drawn point `index`; return the nearest drawn point once its tooltip shows.

    The point is found again in each try: a banner shown meanwhile (an alarm, the day's) moves and refits the map.
    """
    tip = page.locator("#track-map .track-map-tip")

    def hovered():
        state = debug(page)
        box = page.locator("#track-map canvas").bounding_box()
        target = next(p for p in state["track"] if p["index"] == index)
        x, y = target["x"] + offset[0], target["y"] + offset[1]
        nearest = min(state["track"], key=lambda p: (p["x"] - x) ** 2 + (p["y"] - y) ** 2)
        page.mouse.move(box["x"] + x, box["y"] + y)
        for _ in range(20):  # 2 s for this position's tooltip
            if tip.is_visible() and tip.get_attribute("data-index") == str(nearest["index"]):
                return nearest
            time.sleep(0.1)
        return None

    return wait_until(hovered, 15, f"the tooltip of the point nearest to point {index}")


def canvas_pixel(page, x, y):
    """The RGBA of the map canvas at CSS pixel x, y."""
    return page.evaluate(
        """([x, y]) => {
        const canvas = document.querySelector('#track-map canvas');
        const ratio = canvas.width / canvas.getBoundingClientRect().width;
        const pixel = canvas.getContext('2d').getImageData(Math.round(x * ratio), Math.round(y * ratio), 1, 1);
        return Array.from(pixel.data);
    }""",
        [x, y],
    )


def hex_rgb(color):
    return [int(color[i : i + 2], 16) for i in (1, 3, 5)]


def inside(x, y, bounds):
    return bounds[0] <= x <= bounds[2] and bounds[1] <= y <= bounds[3]


def test_a_texas_day_is_drawn_inside_the_county_layer_on_texas_counties(open_page, web):
    page = open_page("/view")
    state = show_day(page, TEXAS_DAY)
    points = day_points(web, TEXAS_DAY)
    positioned = [p for p in points if p["lat"] is not None and p["lon"] is not None]
    assert len(state["track"]) == len(positioned) > 1000
    county = state["layers"]["county"]
    assert county["lines"] >= 4, "county boundaries drawn around the track"
    assert state["layers"]["state"]["lines"] > 0
    width, height = state["width"], state["height"]
    for point in state["track"]:
        assert 0 <= point["x"] <= width and 0 <= point["y"] <= height, point
        assert inside(point["x"], point["y"], county["bounds"]), (point, county["bounds"])
    west, south, east, north = state["countyLayerLonLat"]
    assert all(west <= p["lon"] <= east and south <= p["lat"] <= north for p in positioned)
    # the geography, not only the pixels: the drive starts in Brownfield, Terry County, Texas, and every
    # point is in a county of Texas or of New Mexico (it crosses the state line)
    counties = page.evaluate(
        "(ps) => ps.map((p) => document.getElementById('track-map').trackMap.countyAt(p.lon, p.lat))", positioned
    )
    assert counties[0] == {"id": TERRY_COUNTY_FIPS, "name": "Terry", "state": "Texas"}
    assert {c["state"] for c in counties if c} == {"Texas", "New Mexico"}
    assert None not in counties
    # what is on the canvas at a track point, away from the current-position marker, is a track colour
    newest = state["track"][-1]
    far = [p for p in state["track"] if abs(p["x"] - newest["x"]) + abs(p["y"] - newest["y"]) > 80]
    probe = far[len(far) // 2]
    pixel = canvas_pixel(page, probe["x"], probe["y"])
    assert pixel[3] == 255 and any(
        all(abs(a - b) <= 4 for a, b in zip(pixel[:3], hex_rgb(color), strict=True)) for color in RAMP
    ), pixel
    screenshot(page, "map-dashboard-texas-day")


def test_switching_the_colour_variable_recolours_the_track_with_that_variables_range(open_page, web):
    page = open_page("/view")
    show_day(page, TEXAS_DAY)
    page.select_option("#track-map .track-map-var", "thetae")
    wait_until(lambda: debug(page)["variable"] == "thetae", 10, "θe chosen")
    by_thetae = debug(page)
    page.select_option("#track-map .track-map-var", "wspd")
    by_wind = wait_until(lambda: (s := debug(page))["variable"] == "wspd" and s["range"] and s, 10, "wind chosen")
    speeds = [p["wspd"] for p in day_points(web, TEXAS_DAY) if p["wspd"] is not None]
    assert by_wind["range"]["lo"] == pytest.approx(min(speeds), abs=1e-3)
    assert by_wind["range"]["hi"] == pytest.approx(max(speeds), abs=1e-3)
    assert 250 < by_thetae["range"]["lo"] < by_thetae["range"]["hi"] < 400  # θe in K
    colors_thetae = [p["color"] for p in by_thetae["track"]]
    colors_wind = [p["color"] for p in by_wind["track"]]
    assert len(colors_thetae) == len(colors_wind)
    changed = sum(a != b for a, b in zip(colors_thetae, colors_wind, strict=True))
    assert changed > len(colors_wind) // 4, f"only {changed} of {len(colors_wind)} points changed colour"
    assert "Wind" in page.inner_text("#track-map .track-map-legend")
    assert "m/s" in page.inner_text("#track-map .track-map-legend")


def test_pan_and_zoom_leave_the_track_and_fit_brings_all_of_it_back(open_page):
    page = open_page("/view")
    show_day(page, TEXAS_DAY)
    fitted = debug(page)
    box = page.locator("#track-map canvas").bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(cx, cy)
    for _ in range(5):
        page.mouse.wheel(0, -300)  # zoom in about the cursor
    zoomed = wait_until(lambda: (s := debug(page))["view"]["scale"] > 4 * fitted["view"]["scale"] and s, 10, "zoom in")
    assert zoomed["follow"] is False
    page.mouse.move(cx, cy)
    page.mouse.down()
    page.mouse.move(cx + 300, cy + 120, steps=6)
    page.mouse.up()
    panned = wait_until(lambda: (s := debug(page))["view"]["lon"] < zoomed["view"]["lon"] and s, 10, "panned west")
    outside = [p for p in panned["track"] if not (0 <= p["x"] <= panned["width"] and 0 <= p["y"] <= panned["height"])]
    assert outside, "after zooming and panning part of the track is off the map"
    page.click("#track-map .track-map-btn:text('Fit')")
    refit = wait_until(lambda: (s := debug(page))["follow"] and s, 10, "fit to track")
    xs = [p["x"] for p in refit["track"]]
    ys = [p["y"] for p in refit["track"]]
    assert min(xs) >= 0 and max(xs) <= refit["width"] and min(ys) >= 0 and max(ys) <= refit["height"]
    # fitted, not merely inside: the track spans most of the map's width or height
    assert max((max(xs) - min(xs)) / refit["width"], (max(ys) - min(ys)) / refit["height"]) > 0.7
    assert refit["view"]["scale"] == pytest.approx(fitted["view"]["scale"], rel=1e-6)


def test_hover_shows_the_values_of_the_nearest_point(open_page, web):
    page = open_page("/view")
    state = show_day(page, TEXAS_DAY)
    points = day_points(web, TEXAS_DAY)
    target = state["track"][len(state["track"]) // 3]["index"]
    nearest = hover_near(page, target)
    tip = page.locator("#track-map .track-map-tip")
    text = tip.inner_text()
    point = points[nearest["index"]]
    when = dt.datetime.fromtimestamp(point["ts"], dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    assert when in text
    assert f"{point['t']:.2f} °C" in text  # the default units of the units menu (units.js)
    assert f"{point['td']:.2f} °C" in text
    assert f"{point['wspd']:.2f} m/s" in text
    assert f"{point['wdir']:.0f}°" in text  # a direction is not a unit of the menu: degrees
    assert f"{abs(point['lat']):.5f}° N" in text and f"{abs(point['lon']):.5f}° W" in text
    assert ", Texas" in text
    box = page.locator("#track-map canvas").bounding_box()
    page.mouse.move(box["x"] + 2, box["y"] + box["height"] - 2)
    wait_until(lambda: not tip.is_visible(), 10, "tooltip hidden away from the track")
    # The units and the time zone chosen in the units menu apply to the map's labels too.
    zone = page.evaluate("Meso360Units.set({temperature: 'F', wind: 'kt', time: 'local'}); Meso360Units.label('time')")
    assert hover_near(page, target)["index"] == nearest["index"]
    assert "°F" in tip.inner_text()
    text = tip.inner_text()
    assert f"{point['t'] * 9 / 5 + 32:.2f} °F" in text
    assert f"{point['wspd'] * 3600 / 1852:.1f} kt" in text
    local = page.evaluate(f"Meso360Units.formatTime({point['ts']}, {{date: true}})")
    assert f"{local} {zone}" in text
    screenshot(page, "map-dashboard-hover")


def test_a_track_outside_the_us_is_drawn_on_a_graticule_without_boundaries(open_page, web):
    page = open_page("/view")
    state = show_day(page, ABROAD_DAY)
    assert state["layers"]["graticule"]["lines"] >= 4
    assert state["layers"]["county"]["lines"] == 0
    assert state["layers"]["state"]["lines"] == 0
    positioned = [p for p in day_points(web, ABROAD_DAY) if p["lat"] is not None and p["lon"] is not None]
    assert len(state["track"]) == len(positioned) > 300
    assert all(0 <= p["x"] <= state["width"] and 0 <= p["y"] <= state["height"] for p in state["track"])
    assert 47 < state["view"]["lat"] < 49 and 7 < state["view"]["lon"] < 9
    screenshot(page, "map-dashboard-abroad")


def test_live_map_and_panel_position_card_show_the_live_track_with_position_and_heading(open_page):
    page = open_page("/view")
    state = wait_until(
        lambda: (s := debug(page)) and s["atlasLoaded"] and s["label"] == "live" and s["track"] and s, 30, "live track"
    )
    buffered = page.evaluate("window.meso360.buffer.points.filter((p) => p.lat !== null && p.lon !== null).length")
    assert len(state["track"]) == buffered > 1000
    current = state["current"]
    newest = current["point"]
    assert current["heading"] is not None and newest["compass_dir"] == pytest.approx(current["heading"])
    # the wind barb: knots rounded to 5 (half barb 5, barb 10, flag 50), its staff toward where the wind comes from
    knots = round(newest["wspd"] * 1.943844 / 5) * 5
    barb = current["barb"]
    assert barb["knots"] == knots and 50 * barb["flags"] + 10 * barb["barbs"] + 5 * barb["halfBarbs"] == knots
    dx, dy = barb["tip"][0] - current["x"], barb["tip"][1] - current["y"]
    assert math.degrees(math.atan2(dx, -dy)) % 360 == pytest.approx(newest["wdir"], abs=0.5)
    panel = open_page("/")
    card = wait_until(
        lambda: (s := debug(panel, "position-map")) and s["atlasLoaded"] and s["track"] and s, 30, "panel map"
    )
    assert card["layers"]["county"]["lines"] > 0
    assert card["current"]["point"]["ts"] == current["point"]["ts"]
    assert all(0 <= p["x"] <= card["width"] and 0 <= p["y"] <= card["height"] for p in card["track"])
    screenshot(panel, "map-panel-position-card")


def test_the_map_highlights_the_time_range_the_charts_show(open_page, web):
    page = open_page("/view")
    state = show_day(page, TEXAS_DAY)
    points = day_points(web, TEXAS_DAY)
    assert all(p["inWindow"] for p in state["track"]), "the whole day, as the day's charts show it"
    start, end = points[len(points) // 4]["ts"], points[len(points) // 2]["ts"]
    page.evaluate("([a, b]) => window.meso360.charts.zoomTo(a, b)", [start, end])
    zoomed = wait_until(lambda: (s := debug(page))["window"] != state["window"] and s, 10, "map follows the chart zoom")
    lo, hi = page.evaluate("window.meso360.charts.window()")
    assert zoomed["window"] == [lo, hi] and lo <= start + 1 and hi >= end - 1
    inside = [p["index"] for p in zoomed["track"] if p["inWindow"]]
    assert inside == [i for i, p in enumerate(points) if p["lat"] is not None and lo <= p["ts"] <= hi]
    assert 0 < len(inside) < len(zoomed["track"])
    screenshot(page, "map-dashboard-chart-range")
    page.click("#reset-zoom")
    wait_until(lambda: all(p["inWindow"] for p in debug(page)["track"]), 10, "whole day again after Reset Zoom")


def test_on_a_phone_a_tap_on_the_track_shows_the_values_of_that_point(open_page, web):
    page = open_page("/view", mobile=True)
    state = show_day(page, TEXAS_DAY)
    page.locator("#track-map").scroll_into_view_if_needed()
    box = page.locator("#track-map canvas").bounding_box()
    target = state["track"][len(state["track"]) // 2]
    page.touchscreen.tap(box["x"] + target["x"], box["y"] + target["y"])
    tip = page.locator("#track-map .track-map-tip")
    wait_until(lambda: tip.is_visible() and tip.get_attribute("data-index") is not None, 10, "tooltip after a tap")
    tapped = day_points(web, TEXAS_DAY, points=1000)[int(tip.get_attribute("data-index"))]
    assert f"{abs(tapped['lat']):.5f}° N" in tip.inner_text()
    screenshot(page, "map-phone-tap")


def test_a_live_update_keeps_the_hovered_point_and_its_values(open_page):
    page = open_page("/view")
    state = wait_until(
        lambda: (s := debug(page)) and s["atlasLoaded"] and s["label"] == "live" and s["track"] and s, 30, "live track"
    )
    hover_near(page, state["track"][len(state["track"]) // 2]["index"])  # again at each try: a banner refits the map
    tip = page.locator("#track-map .track-map-tip")
    index, text = int(tip.get_attribute("data-index")), tip.inner_text()
    # the oldest point leaves the live window and the map redraws, as with every new row
    page.evaluate("window.meso360.buffer.points.shift(); window.meso360.scheduleDraw()")
    wait_until(
        lambda: tip.get_attribute("data-index") == str(index - 1),
        10,
        "the same point, one place earlier in the buffer",
    )
    assert tip.is_visible() and tip.inner_text() == text
