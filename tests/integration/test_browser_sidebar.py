"""The observation cards (static/sidebar.js) in a real headless Chromium: rows and their colour classes, and the
30-second averages that step once per 30 s of data time. The module is loaded from the real web daemon and fed
points directly, so the data times are exact."""

import pytest
from browser_helpers import PageErrors, browser  # noqa: F401 (the fixture)
from web_helpers import start_web

pytestmark = pytest.mark.browser

FEED = """async () => {
  const { Sidebar } = await import('/static/sidebar.js');
  const container = document.createElement('div');
  document.body.append(container);
  const sidebar = new Sidebar(container, { idPrefix: 'probe' });
  const point = (ts, wspd) => ({ id: ts, ts, fix: true, t: 20, td: 10, pressure: 950, wspd, wdir: 180,
    compass_dir: 90, alt: 350, rh: 50, lat: 35.2, lon: -97.4 });
  const average = () => document.getElementById('probe-avg-wspd').textContent;
  const seen = {};
  // History: 10 s at 2 m/s ending at t = 1009; the averages step again 30 s of data time after it.
  sidebar.history(Array.from({ length: 10 }, (_, i) => point(1000 + i, 2)));
  seen.afterHistory = average();
  const points = Array.from({ length: 10 }, (_, i) => point(1000 + i, 2));
  for (let ts = 1010; ts <= 1038; ts++) { points.push(point(ts, 8)); sidebar.point(points.at(-1), points); }
  seen.beforeStep = average();
  points.push(point(1039, 8));
  sidebar.point(points.at(-1), points);
  seen.afterStep = average();
  points.push(point(1040, 20));
  sidebar.point(points.at(-1), points);
  seen.afterNextPoint = average();
  seen.classes = Object.fromEntries(['cur-alt', 'cur-wspd', 'max-time', 'last', 'gaps', 'dp'].map(
    (key) => [key, document.getElementById(`probe-${key}`).className]));
  seen.labels = [...container.querySelectorAll('.status-card .label')].map((node) => node.textContent);
  return seen;
}"""


@pytest.fixture(scope="module")
def web(tmp_path_factory):
    process = start_web(tmp_path_factory.mktemp("sidebar"))
    yield process
    process.stop()


def evaluate_on_the_dashboard(browser, web, script):  # noqa: F811
    """Run `script` in a fresh /view page; return what it returns, having checked the page logged no error."""
    context = browser.new_context()
    page = context.new_page()
    errors = PageErrors(page, web.url)
    page.goto(web.url + "/view")
    seen = page.evaluate(script)
    context.close()
    assert errors.errors == [], errors.errors
    assert errors.foreign_requests == [], errors.foreign_requests
    return seen


def test_the_averages_step_once_per_30_s_of_data_time_and_rows_keep_their_classes(browser, web):  # noqa: F811
    seen = evaluate_on_the_dashboard(browser, web, FEED)
    assert seen["afterHistory"] == seen["beforeStep"]  # 29 s of new data: the averages wait
    assert seen["afterHistory"].startswith("2.0") and seen["afterStep"].startswith("8.0"), seen
    assert seen["afterNextPoint"] == seen["afterStep"]  # the next step is 30 s of data time later
    assert seen["classes"] == {
        "cur-alt": "value",
        "cur-wspd": "value c-wspd",
        "max-time": "value",
        "last": "value",
        "gaps": "value",
        "dp": "value c-pressure",
    }
    assert seen["labels"] == [
        "Last update",
        "Record age",
        "GPS fix",
        "Complete (10 min)",
        "Complete (today)",
        "Gaps (UTC day)",
        "QC flags (today)",
        "3-min ΔP",
    ]


QC_LINE = """async () => {
  const { Sidebar } = await import('/static/sidebar.js');
  const container = document.createElement('div');
  document.body.append(container);
  const sidebar = new Sidebar(container, { idPrefix: 'qcprobe' });
  const node = document.getElementById('qcprobe-qc');
  const seen = { before: node.textContent };
  sidebar.setServerStatus({ qc: { rows: 3600, suspect: 12, bad: 2 } });
  seen.flagged = [node.textContent, node.className, node.title];
  sidebar.setServerStatus({ qc: { rows: 3601, suspect: 12, bad: 0 } });
  seen.clean = [node.textContent, node.className];
  return seen;
}"""


def test_the_status_card_shows_todays_qc_flags_and_warns_on_a_bad_one(browser, web):  # noqa: F811
    seen = evaluate_on_the_dashboard(browser, web, QC_LINE)
    assert seen["before"] == "--"
    assert seen["flagged"][:2] == ["12 suspect, 2 bad", "value c-warn"]
    assert "of 3600 checked" in seen["flagged"][2]
    assert seen["clean"] == ["12 suspect, 0 bad", "value"]
