"""The dashboard and control panel in a real headless Firefox (Debian firefox-esr), against the real stack on loopback.

Playwright's Firefox is a patched build that cannot be installed here, so tests/js/firefox_check.mjs drives the
Debian firefox-esr with puppeteer-core over WebDriver BiDi (no geckodriver, no downloaded browser) and prints a
JSON result that this test asserts on. The stack (simulator → ingest → web, fake systemctl) is the one of
test_browser.py; the Chromium tests there cover the interactions in detail, this one that the pages work in
Firefox: live points drawn, status dot, current values, °C/°F, the units list, login and the read-only state.
"""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from browser_helpers import ARTIFACTS_DIR
from test_browser import PASSWORD, VEHICLE, stack  # noqa: F401 (the module-scoped fixture)

FIREFOX = os.environ.get("MESO360_FIREFOX", "/usr/bin/firefox-esr")
JS_DIR = Path(__file__).resolve().parents[1] / "js"
SCRIPT = JS_DIR / "firefox_check.mjs"
DEADLINE_MS = 30000


def _missing():
    if not (Path(FIREFOX).is_file() or shutil.which(FIREFOX)):
        return f"{FIREFOX} not found (apt-get install firefox-esr)"
    if shutil.which("node") is None:
        return "node not found (apt-get install nodejs)"
    if not (JS_DIR / "node_modules" / "puppeteer-core").is_dir():
        return "puppeteer-core not installed in tests/js (make venv)"
    return None


pytestmark = pytest.mark.browser


def test_dashboard_and_control_panel_work_in_firefox(stack, tmp_path):  # noqa: F811
    # `make venv` installs all three; a missing one is a failed set-up, never a silent skip.
    missing = _missing()
    assert missing is None, missing
    profile = tmp_path / "firefox-profile"  # a new, empty profile for this run
    profile.mkdir()
    home = tmp_path / "home"
    home.mkdir()
    ARTIFACTS_DIR.mkdir(exist_ok=True)
    options = {
        "web": stack["web"].url,
        "readonly": stack["readonly"].url,
        "password": PASSWORD,
        "profile": str(profile),
        "artifacts": str(ARTIFACTS_DIR),
        "firefox": FIREFOX,
        "timeoutMs": DEADLINE_MS,
    }
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),  # Firefox writes caches under $HOME; root's own is left alone
        "TMPDIR": str(tmp_path),
        "MOZ_CRASHREPORTER_DISABLE": "1",
        "MOZ_DISABLE_AUTO_SAFE_MODE": "1",
        "MOZ_HEADLESS": "1",
        "PUPPETEER_SKIP_DOWNLOAD": "1",
        "NO_PROXY": "*",
    }
    result = subprocess.run(
        ["node", str(SCRIPT), json.dumps(options)],
        cwd=JS_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    assert lines, f"no JSON result; stdout: {result.stdout[-2000:]} stderr: {result.stderr[-2000:]}"
    outcome = json.loads(lines[-1])
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
