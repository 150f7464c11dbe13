"""QC marks on the dashboard's charts, end to end on loopback: the real simulator replays the packaged real
observations with two injected temperature faults, the real meso360-ingest writes the rows and their QC sidecar,
the real meso360-web sends the marks (/api/history, /api/history/<day>, the stream's `qc` events) and a real
headless Chromium draws them.

The first fault (t_fast + 15 degC: step, suspect) is among the records the logger already holds at start, so it
reaches the page with the history; the second (t_fast 70 degC: range, bad) comes about 40 s later, once the page is
open, so it reaches it as a `qc` event of the live stream.
"""

import datetime as dt
import threading
from pathlib import Path

import pytest
import requests
from browser_helpers import PageErrors, browser, run_firefox_script, screenshot, wait_until  # noqa: F401 (the fixture)
from conftest import start_simulator_process
from ingest_helpers import IngestProcess, write_config
from web_helpers import start_web

from meso360.datafile import OBS_COLUMNS, OBS_HEADER, RowReader
from meso360.qc.flags import COLUMNS, parse_line, worst

PREFILL, RATE = 60, 2  # records held at start; records per wall second
HELD_SPIKE, LIVE_SPIKE = 30, 140  # replayed row indexes: one held at start, one produced 40 s after
T_CELL = COLUMNS.index("t_fast") - 4  # in the variable cells of a parsed sidecar line
T_FAST = OBS_COLUMNS.index("t_fast")
REAL_ROWS = [
    line.split(",")
    for line in (Path(__file__).resolve().parents[2] / "test_data" / "test.txt").read_text().splitlines()[1:401]
]


def replay_with_faults(path):
    """Write the first 400 real rows with the two faults as the simulator's replay file."""
    rows = [list(row) for row in REAL_ROWS]
    rows[HELD_SPIKE][T_FAST] = f"{float(rows[HELD_SPIKE][T_FAST]) + 15:.2f}"
    rows[LIVE_SPIKE][T_FAST] = "70"
    path.write_text(OBS_HEADER + "\n" + "".join(",".join(row) + "\n" for row in rows))
    return path


class StreamRecorder:
    """The events of one /api/stream connection, read in a thread from before the live fault."""

    def __init__(self, url):
        self.events = []
        self.closed = False
        self.response = requests.get(url + "/api/stream", stream=True, timeout=(5, 60))
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        buffer = ""
        try:
            for chunk in self.response.iter_content(chunk_size=None, decode_unicode=True):
                buffer += chunk
                *complete, buffer = buffer.split("\n\n")
                self.events.extend(complete)
        except (requests.RequestException, AttributeError, OSError):
            if not self.closed:  # closing the response at teardown ends the read with one of these
                raise

    def close(self):
        self.closed = True
        self.response.close()
        self.thread.join(10)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """Simulator (replaying the faults) -> ingest (rows and QC sidecar) -> web, all on loopback; a stream recorder."""
    base = tmp_path_factory.mktemp("qcmarks")
    running = []
    try:
        sim = start_simulator_process(base, rate=RATE, prefill=PREFILL, data=replay_with_faults(base / "replay.txt"))
        running.append(sim)
        ingest = IngestProcess(write_config(base, sim.url, support_table="", first_start="all"), base / "ingest.log")
        running.append(ingest)
        web = start_web(base, "[meso360]\nvehicle = MMQ\n")
        running.append(web)
        recorder = StreamRecorder(web.url)
        yield {"sim": sim, "web": web, "data_dir": base / "data", "recorder": recorder}
        recorder.close()
    finally:
        for process in reversed(running):
            process.stop()


def spike_seconds(stack, row_index):
    """The GPS time of the replayed row `row_index` in the day's file: record n is replayed row n, written as the
    file's row n (ingest collects every record from 0, in order)."""

    def row():
        found = list(stack["data_dir"].glob("[0-9]*[0-9].txt"))
        text = found[0].read_text() if found else ""
        lines = text[: text.rfind("\n") + 1].splitlines()  # complete lines only
        return lines[1 + row_index] if len(lines) > 1 + row_index else None

    line = wait_until(row, 120, f"row {row_index} on disk")
    return RowReader().parse(line)[0]


def day_file(stack):
    (path,) = (path for path in stack["data_dir"].glob("*.txt") if not path.name.endswith("_qc.txt"))
    return path


def flagged_t_rows(data_dir):
    """GPS times of the rows whose t_fast the sidecar flags, read straight from the sidecar: (time, flag, cell)."""
    (sidecar,) = data_dir.glob("*_qc.txt")
    flagged = []
    for line in sidecar.read_text().splitlines()[2:]:
        parsed = parse_line(line)
        cell = parsed[4][T_CELL]
        if "1" in cell or "2" in cell:
            when = dt.datetime.strptime(parsed[1], "%Y-%m-%dT%H:%M:%S%z")
            flagged.append((int(when.timestamp()), cell))
    return flagged


def sidecar_marks(data_dir):
    """Every flag of a charted variable in the sidecar, as marks: (time, series key, worst flag) per flagged cell;
    and the time of its last row."""
    (sidecar,) = data_dir.glob("*_qc.txt")
    charted = {"t_fast": "t", "dewpoint": "td", "sfc_wspd": "wspd", "sfc_wdir": "wdir", "pressure": "pressure"}
    marks, last = set(), None
    text = sidecar.read_text()
    for line in text[: text.rfind("\n") + 1].splitlines()[2:]:  # complete lines only
        parsed = parse_line(line)
        if parsed[1] != "nan":
            last = int(dt.datetime.strptime(parsed[1], "%Y-%m-%dT%H:%M:%S%z").timestamp())
        for column, key in charted.items():
            flag = worst(parsed[4][COLUMNS.index(column) - 4])
            if flag in (1, 2) and parsed[1] != "nan":
                when = dt.datetime.strptime(parsed[1], "%Y-%m-%dT%H:%M:%S%z")
                marks.add((int(when.timestamp()), key, flag))
    return marks, last


def same_marks_as_the_sidecar(stack):
    """Every variable: the live history's marks are the sidecar's flags of the rows in its window, no more, no fewer
    (the sidecar read first: the web daemon may have read less of it, never more)."""
    in_sidecar, covered = sidecar_marks(stack["data_dir"])
    body = history(stack)
    window = {ts for ts in body["points"]["ts"] if ts <= covered}
    return {(ts, key, flag) for ts, key, flag, _checks in body["qc"] if ts in window} == {
        mark for mark in in_sidecar if mark[0] in window
    }


def history(stack, path="/api/history"):
    return requests.get(stack["web"].url + path, timeout=20).json()


@pytest.mark.browser
def test_the_dashboard_draws_each_flagged_temperature_and_its_hover_names_the_flag(browser, stack):  # noqa: F811
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    context.set_default_timeout(15000)
    page = context.new_page()
    errors = PageErrors(page, stack["web"].url)
    try:
        page.goto(stack["web"].url + "/view")
        page.wait_for_selector("#conn-dot.dot-live")
        held = spike_seconds(stack, HELD_SPIKE)
        wait_until(
            lambda: any(m["ts"] == held for m in page.evaluate("window.meso360.qcMarks.drawn.temp || []")),
            30,
            "the held spike's mark drawn",
        )
        live = held + (LIVE_SPIKE - HELD_SPIKE)
        assert page.evaluate(f"window.meso360.qcMarks.markAt('t', {live})") is None  # not yet: it comes live
        wait_until(
            lambda: any(m["ts"] == live for m in page.evaluate("window.meso360.qcMarks.drawn.temp || []")),
            90,
            "the live spike's mark drawn after its qc event",
        )
        drawn = page.evaluate("window.meso360.qcMarks.drawn.temp")
        assert sorted((m["ts"], m["key"], m["flag"], m["checks"]) for m in drawn) == [
            (held, "t", 1, "step"),
            (live, "t", 2, "range"),
        ]  # nothing else on the temperature chart, clean rows unmarked
        for mark in drawn:
            # the mark sits on the plotted point: the chart's own position of that time and value
            expected = page.evaluate(
                """(ts) => { const u = window.meso360.charts.charts[0].u; const i = u.data[0].indexOf(ts);
                   return [u.valToPos(ts, 'x'), u.valToPos(u.data[1][i], 'y'), u.data[1][i]]; }""",
                mark["ts"],
            )
            assert abs(mark["x"] - expected[0]) < 0.5 and abs(mark["y"] - expected[1]) < 0.5
            if mark["ts"] == live:
                assert expected[2] == 70
        ring = page.evaluate(
            """(ts) => { const u = window.meso360.charts.charts[0].u; const r = window.devicePixelRatio || 1;
               const m = window.meso360.qcMarks.drawn.temp.find((d) => d.ts === ts);
               const x = Math.round((m.x + 6) * r + u.bbox.left), y = Math.round(m.y * r + u.bbox.top);
               return Array.from(u.ctx.getImageData(x - 1, y - 1, 3, 3).data); }""",
            live,
        )
        reds = [ring[i : i + 3] for i in range(0, len(ring), 4)]
        assert any(abs(r - 0xF3) < 20 and abs(g - 0x8B) < 30 and abs(b - 0xA8) < 30 for r, g, b in reds), reds
        wind = page.evaluate("window.meso360.qcMarks.drawn.wind || []")
        assert wind == []  # the flags are the temperature's: no mark on another chart
        page.click("#pause-btn")  # the live window stops scrolling: each mark stays where the mouse is sent
        page.wait_for_timeout(500)  # a draw already scheduled lands first
        drawn = page.evaluate("window.meso360.qcMarks.drawn.temp")
        over = page.locator(".chart-temp .u-over")
        box = over.bounding_box()
        labels = {}
        for mark in drawn:
            over.hover(position={"x": mark["x"], "y": mark["y"]})
            wait_until(
                lambda: "·" in page.inner_text(".chart-temp .u-legend"),
                5,
                "the flag in the hover label",  # noqa: B023
            )
            labels[mark["checks"]] = page.inner_text(".chart-temp .u-legend")
        assert "step, suspect" in labels["step"] and "range, bad" in labels["range"], labels
        assert box["width"] > 0
        screenshot(page, "qc-marks-dashboard")
        # A point on the plot's top edge (the chart scaled to end at 70 degC) keeps its whole ring: its top, above
        # the plot, is drawn, not cut off (a column of pixels around the ring's top, every one above the plot).
        top = page.evaluate(
            """async (ts) => { const u = window.meso360.charts.charts[0].u; const r = window.devicePixelRatio || 1;
               const scale = u.series[1].scale;
               u.setScale(scale, {min: u.scales[scale].min, max: 70});
               await new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)));
               const m = window.meso360.qcMarks.drawn.temp.find((d) => d.ts === ts);
               const x = Math.round(m.x * r + u.bbox.left), y = Math.round((m.y - 6) * r + u.bbox.top);
               return [m.y, y + 3 < u.bbox.top, Array.from(u.ctx.getImageData(x, y - 3, 1, 7).data)]; }""",
            live,
        )
        assert abs(top[0]) < 0.5 and top[1], top[:2]  # the point on the edge, the ring's top above the plot
        column = [top[2][i : i + 3] for i in range(0, len(top[2]), 4)]
        assert any(abs(r - 0xF3) < 20 and abs(g - 0x8B) < 30 and abs(b - 0xA8) < 30 for r, g, b in column), column
        page.uncheck("#qc-marks-toggle")
        wait_until(lambda: page.evaluate("(window.meso360.qcMarks.drawn.temp || []).length") == 0, 5, "marks hidden")
        page.reload()
        page.wait_for_selector("#conn-dot.dot-live")
        assert not page.is_checked("#qc-marks-toggle")  # remembered by this browser
        page.check("#qc-marks-toggle")
        wait_until(lambda: len(page.evaluate("window.meso360.qcMarks.drawn.temp || []")) == 2, 10, "marks again")
        day = day_file(stack).stem
        wait_until(lambda: page.locator(f"#day-select option[value='{day}']").count() == 1, 10, "today listed")
        page.select_option("#day-select", day)
        wait_until(lambda: "Viewing" in page.inner_text("#day-banner"), 15, "the stored day drawn")
        day_marks = page.evaluate("window.meso360.qcMarks.drawn.temp.map((m) => [m.ts, m.flag, m.checks])")
        assert sorted(day_marks) == [[held, 1, "step"], [live, 2, "range"]]
        day_times = page.evaluate("[...window.meso360.qcMarks.day.keys()].sort()")
        assert day_times == [held, live]  # drawn from the day's answer, not the live marks
    finally:
        context.close()
    assert errors.errors == [], errors.errors
    assert errors.foreign_requests == []


def iso_utc(seconds):
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_the_api_marks_exactly_the_flagged_rows_live_and_in_the_days_answer(stack):
    held = spike_seconds(stack, HELD_SPIKE)
    live = held + (LIVE_SPIKE - HELD_SPIKE)
    wait_until(lambda: any(m[0] == live for m in history(stack)["qc"]), 120, "the live spike marked")
    body = history(stack)
    t_marks = sorted(mark for mark in body["qc"] if mark[1] == "t")
    assert t_marks == [[held, "t", 1, "step"], [live, "t", 2, "range"]]
    assert sorted(when for when, _cell in flagged_t_rows(stack["data_dir"])) == [held, live]  # as the sidecar says
    wait_until(lambda: same_marks_as_the_sidecar(stack), 10, "the marks of every variable as the sidecar's")
    points = body["points"]
    assert held in points["ts"] and live in points["ts"]
    assert points["t"][points["ts"].index(live)] == 70
    clean = [ts for ts in points["ts"] if ts not in (held, live)]
    assert len(clean) > 100 and not {mark[0] for mark in t_marks} & set(clean)
    day = history(stack, f"/api/history/{day_file(stack).stem}")
    assert sorted(mark for mark in day["qc"] if mark[1] == "t") == t_marks  # every row drawn: the same marks
    around = f"from={iso_utc(held - 600)}&to={iso_utc(live + 600)}"  # a range holding both: the same marks
    assert sorted(mark for mark in history(stack, f"/api/range?{around}")["qc"] if mark[1] == "t") == t_marks

    # a batch of marks goes out with the stream's next row or keep-alive, so it may follow the history's answer
    def qc_events():
        return [event for event in list(stack["recorder"].events) if event.startswith("event: qc")]

    wait_until(lambda: any(f'[{live},"t",2,"range"]' in event for event in qc_events()), 15, "the live mark streamed")
    # the qc event came before the rows appended after the mark was learned, and carried no id
    assert all("\nid:" not in event and not event.startswith("id:") for event in qc_events())


@pytest.mark.browser
def test_firefox_draws_the_marks_on_their_points_and_names_them_on_hover(stack, tmp_path):
    held = spike_seconds(stack, HELD_SPIKE)
    live = held + (LIVE_SPIKE - HELD_SPIKE)
    wait_until(lambda: any(m[0] == live for m in history(stack)["qc"]), 120, "the live spike marked")
    options = {"web": stack["web"].url, "ts": [held, live], "timeoutMs": 30000}
    outcome = run_firefox_script("firefox_qcmarks_check.mjs", options, tmp_path, timeout_s=240)
    assert outcome["failure"] is None, outcome["failure"]
    assert outcome["errors"] == [] and outcome["foreignRequests"] == [], outcome
    checks = outcome["checks"]
    assert checks["browserVersion"].lower().startswith("firefox")
    drawn = sorted((m["ts"], m["key"], m["flag"], m["checks"]) for m in checks["drawn"])
    assert drawn == [(held, "t", 1, "step"), (live, "t", 2, "range")]
    for mark, (ts, x, y) in zip(checks["drawn"], checks["expected"], strict=True):
        assert mark["ts"] == ts and abs(mark["x"] - x) < 0.5 and abs(mark["y"] - y) < 0.5
    assert "step, suspect" in checks["legends"]["step"] and "range, bad" in checks["legends"]["range"]
