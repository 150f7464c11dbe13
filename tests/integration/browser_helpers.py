"""The browsers of the tests: Playwright driving the Debian `chromium`, node + puppeteer-core driving the Debian
firefox-esr (never a downloaded build)."""

import contextlib
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("MESO360_CHROMIUM", "/usr/bin/chromium")
# Playwright adds --headless itself and launches with a new, empty temporary profile (user-data-dir).
CHROMIUM_FLAGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)
MOBILE_VIEWPORT = {"width": 390, "height": 844}
MOBILE_USER_AGENT = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148"
)
ARTIFACTS_DIR = Path(__file__).resolve().parents[2] / "test-artifacts"


def chromium_missing():
    """Return why Chromium cannot be driven here (Playwright or chromium missing), or None when it can."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is not installed (make venv)"
    if not (Path(CHROMIUM).is_file() or shutil.which(CHROMIUM)):
        return f"{CHROMIUM} not found (apt-get install chromium)"
    return None


@contextlib.contextmanager
def chromium_browser():
    """Yield a headless Playwright Browser on the Debian chromium (a new empty profile); close it on exit."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=list(CHROMIUM_FLAGS), headless=True, timeout=60000
        )
        try:
            yield browser
        finally:
            browser.close()


class PageErrors:
    """Collects uncaught page errors, console errors and requests to anything but loopback."""

    def __init__(self, page, base_url):
        self.errors = []
        self.foreign_requests = []
        page.on("pageerror", lambda error: self.errors.append(f"pageerror: {error}"))
        page.on("console", lambda msg: self._console(msg))
        page.on("request", lambda request: self._request(request, base_url))

    def _console(self, msg):
        if msg.type == "error" and "favicon.ico" not in msg.text and "404" not in msg.text:
            self.errors.append(f"console: {msg.text}")

    def _request(self, request, base_url):
        url = request.url
        if not (url.startswith(base_url) or url.startswith("data:") or url.startswith("blob:")):
            self.foreign_requests.append(url)


def wait_until(condition, timeout_s, message, interval_s=0.1):
    """Poll `condition()` until it returns a truthy value and return it; raise AssertionError after timeout_s."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout_s} s: {message}")
        time.sleep(interval_s)


def screenshot(page, name):
    """Save a full-page screenshot as test-artifacts/<name>.png and return its path."""
    ARTIFACTS_DIR.mkdir(exist_ok=True)
    path = ARTIFACTS_DIR / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


@pytest.fixture(scope="module")
def browser():
    """A headless Debian chromium driven by Playwright, one per test module (import this fixture to use it)."""
    # `make venv` and the Debian chromium provide it: a missing one is a failed set-up, never a silent skip.
    missing = chromium_missing()
    if missing is not None:
        pytest.fail(missing)
    with chromium_browser() as chromium:
        yield chromium


FIREFOX = os.environ.get("MESO360_FIREFOX", "/usr/bin/firefox-esr")
JS_DIR = Path(__file__).resolve().parents[1] / "js"


def firefox_missing():
    """Return why the Debian firefox-esr cannot be driven here (Firefox, node or puppeteer-core missing), or None."""
    if not (Path(FIREFOX).is_file() or shutil.which(FIREFOX)):
        return f"{FIREFOX} not found (apt-get install firefox-esr)"
    if shutil.which("node") is None:
        return "node not found (apt-get install nodejs)"
    if not (JS_DIR / "node_modules" / "puppeteer-core").is_dir():
        return "puppeteer-core not installed in tests/js (make venv)"
    return None


def run_firefox_script(script, options, tmp_path, timeout_s):
    """Run tests/js/SCRIPT with node on the Debian firefox-esr (a new, empty profile and HOME under tmp_path), given
    `options` (JSON: its first argument; "profile", "artifacts" and "firefox" are added); return its JSON outcome."""
    missing = firefox_missing()  # `make venv` installs them: a missing one is a failed set-up, never a skip
    assert missing is None, missing
    profile, home = tmp_path / "firefox-profile", tmp_path / "home"
    profile.mkdir()
    home.mkdir()
    ARTIFACTS_DIR.mkdir(exist_ok=True)
    options = options | {"profile": str(profile), "artifacts": str(ARTIFACTS_DIR), "firefox": FIREFOX}
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
        ["node", str(JS_DIR / script), json.dumps(options)],
        cwd=JS_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    assert lines, f"no JSON result; stdout: {result.stdout[-2000:]} stderr: {result.stderr[-2000:]}"
    return json.loads(lines[-1])
