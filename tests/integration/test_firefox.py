"""The dashboard and control panel in a real headless Firefox (Debian firefox-esr), against the real stack on loopback.

Playwright's Firefox is a patched build that cannot be installed here, so tests/js/firefox_check.mjs drives the
Debian firefox-esr with puppeteer-core over WebDriver BiDi (no geckodriver, no downloaded browser) and prints a
JSON result that this test asserts on. The stack (simulator → ingest → web, fake systemctl) is the one of
test_browser.py; the Chromium tests there cover the interactions in detail, this one that the pages work in
Firefox: live points drawn, status dot, current values, °C/°F, the units list, login and the read-only state.
"""

import pytest
from browser_helpers import ARTIFACTS_DIR, run_firefox_script
from test_browser import PASSWORD, VEHICLE, stack  # noqa: F401 (the module-scoped fixture)

DEADLINE_MS = 30000


pytestmark = pytest.mark.browser


def test_dashboard_and_control_panel_work_in_firefox(stack, tmp_path):  # noqa: F811
    options = {
        "web": stack["web"].url,
        "readonly": stack["readonly"].url,
        "password": PASSWORD,
        "timeoutMs": DEADLINE_MS,
    }
    outcome = run_firefox_script("firefox_check.mjs", options, tmp_path, timeout_s=120)
    checks = outcome["checks"]
    assert outcome["failure"] is None, outcome["failure"]
    assert outcome["errors"] == [], outcome["errors"]
    assert outcome["foreignRequests"] == [], f"requests that left loopback: {outcome['foreignRequests']}"
    assert checks["browserVersion"].lower().startswith("firefox"), checks["browserVersion"]

    # /view: live points drawn, dot green, current values as numbers
    assert checks["dotLive"] is True
    assert checks["pointsFirst"] > 0 and checks["pointsLater"] >= checks["pointsFirst"] + 2
    assert checks["idsUniqueSorted"] is True
    assert checks["chartCanvases"] >= 3
    assert checks["vehicle"] == VEHICLE and checks["title"].startswith(VEHICLE)
    for key, unit in (("currentT", "°C"), ("currentTd", "°C"), ("currentWspd", "m/s"), ("currentPressure", "hPa")):
        number = checks[key].removesuffix(unit).strip()
        assert checks[key].endswith(unit) and float(number) == float(number), (key, checks[key])
    assert checks["fix"] == "Fix"
    assert checks["lastUpdate"].endswith("UTC")
    assert checks["axisF"] == "°F"
    # the track map: the simulator replays a drive in west Texas, drawn inside the map over its counties
    assert checks["map"]["inside"] is True
    assert checks["map"]["county"]["state"] in ("Texas", "New Mexico"), checks["map"]

    # /: units listed, login form until the password is given, then control enabled; read-only without a password
    assert {"component-ingest", "component-web", "component-tunnel", "component-sim"} <= set(checks["units"])
    assert checks["loginFormVisible"] is True
    assert checks["restartDisabledLoggedOut"] is True
    assert checks["restartEnabledLoggedIn"] is True
    assert checks["heartbeat"] == "server connected"
    assert checks["readonlyNote"].startswith("Control is read-only.")
    assert checks["readonlyButtons"] == 0
    assert checks["readonlyLoginVisible"] is False
    for name in ("firefox-dashboard.png", "firefox-control.png"):
        assert (ARTIFACTS_DIR / name).stat().st_size > 10000, name
