"""For scripts/e2e_fleet.sh: the base's fleet page in headless Chromium, as a person at base sees it.

Run on the host with the checkout's .venv python (Playwright driving Debian's chromium, as the integration tests do:
tests/integration/browser_helpers.py), inside the base container's network namespace (nsenter --net), so the page's
loopback address is the base's own and nothing else can be reached:

    fleetpage.py URL VEHICLE=STATE[,STATE...] ... [--screenshot NAME]

Waits (bounded) until the table lists exactly these vehicles, each in one of its states; then the map must draw one
marker per vehicle in its state's colour (fleetmap.js's STATE_COLORS) over the offline boundaries, the page must log
no error and ask nothing of any other address. Saves test-artifacts/NAME.png. Prints one JSON line; exit 0 when all
holds, 1 otherwise.
"""

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
from browser_helpers import PageErrors, chromium_browser, screenshot, wait_until  # noqa: E402

WAIT_S = 60  # the page polls Prometheus every 3 s, which scrapes every 15 s
ROWS = (
    "[...document.querySelectorAll('#fleet-table tbody tr')].map((r) => [r.dataset.vehicle, r.dataset.state,"
    " r.querySelector('td:nth-child(10)').textContent])"
)
MAP = "document.getElementById('fleet-map').trackMap.debug()"


def expectations(words):
    """Given ["MM1=ok", "MM2=alarm,stale"], return {"MM1": {"ok"}, "MM2": {"alarm", "stale"}}."""
    return {name: set(states.split(",")) for name, states in (word.split("=", 1) for word in words)}


def check(page, url, expected):
    """Return (what the page showed, problems)."""
    errors = PageErrors(page, url)
    page.goto(url + "/")
    problems = []

    def rows_as_expected():
        rows = page.evaluate(ROWS)
        return [name for name, *_ in rows] == list(expected) and all(
            state in expected[name] for name, state, _alarms in rows
        )

    try:
        wait_until(rows_as_expected, WAIT_S, f"the table showing {expected}")
    except AssertionError as error:
        problems.append(str(error))
    rows = page.evaluate(ROWS)
    states = {name: state for name, state, _alarms in rows}
    colors = page.evaluate("import('/fleet-static/fleetmap.js').then((module) => module.STATE_COLORS)")
    try:
        debug = wait_until(
            lambda: (d := page.evaluate(MAP))["atlasLoaded"] and len(d["track"]) == len(expected) and d,
            WAIT_S,
            "a marker per vehicle on the map, its boundaries loaded",
        )
        # One marker per vehicle with a position, in the snapshot's order (the table's).
        markers = [marker["color"] for marker in debug["track"]]
        if markers != [colors.get(state) for state in states.values()]:
            problems.append(f"markers {markers} are not in the colours of the states {states} ({colors})")
        if debug["layers"]["state"]["lines"] <= 0:
            problems.append("the map's state boundaries are not drawn")
    except AssertionError as error:
        markers = []
        problems.append(str(error))
    problems += errors.errors + [f"asked another address: {request}" for request in errors.foreign_requests]
    shown = {"rows": rows, "markers": markers, "alarms_text": page.inner_text("#fleet-alarms")}
    return shown, problems


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("vehicles", nargs="+", metavar="VEHICLE=STATE[,STATE...]")
    parser.add_argument("--screenshot", default="e2e-fleet-page")
    args = parser.parse_args(argv)
    expected = expectations(args.vehicles)
    with chromium_browser() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        shown, problems = check(page, args.url, expected)
        path = screenshot(page, args.screenshot)
    print(json.dumps({"ok": not problems, **shown, "screenshot": str(path), "problems": problems}))
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main())
