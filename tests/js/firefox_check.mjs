// The dashboard (/view) and the control panel (/) in the Debian firefox-esr, headless, driven by puppeteer-core
// over WebDriver BiDi (no geckodriver, no downloaded browser). Run by tests/integration/test_firefox.py:
//
//   node firefox_check.mjs '{"web": "http://127.0.0.1:P", "readonly": "http://127.0.0.1:Q", "vehicle": "MMT",
//                            "password": "...", "profile": "/tmp/empty-dir", "artifacts": "test-artifacts",
//                            "firefox": "/usr/bin/firefox-esr", "timeoutMs": 30000}'
//
// Prints one JSON object on stdout: {"ok": bool, "checks": {...}, "errors": [...], "foreignRequests": [...],
// "failure": "..."}; the pytest test asserts on it. Exit status 0 unless the script itself crashed.
import path from 'node:path';
import { runInFirefox, waitUntil, watchPage } from './firefox_prefs.mjs';

const opts = JSON.parse(process.argv[2]);
const deadlineMs = opts.timeoutMs ?? 30000;

const errors = [];
const foreignRequests = [];
const checks = {};

const outcome = { errors, foreignRequests };
// A 404 the browser logs on its own (an icon it guesses) is not the page's error; answers are not checked here.
const watch = (page, label) =>
  watchPage(page, outcome, label, {
    statuses: false,
    ignoreConsole: (text) => text.includes('favicon.ico') || text.includes('404'),
  });
const until = (page, fn, arg, what) => waitUntil(page, fn, arg, what, deadlineMs);

const text = (page, selector) => page.$eval(selector, (node) => node.textContent.trim());
const visible = (page, selector) =>
  page.$eval(selector, (node) => !node.classList.contains('hidden') && node.getClientRects().length > 0);

async function checkDashboard(browser) {
  const page = await browser.newPage();
  watch(page, '/view');
  await page.setViewport({ width: 1440, height: 900 });
  await page.goto(`${opts.web}/view`, { waitUntil: 'load' });
  await until(page, () => document.querySelector('#conn-dot.dot-live') !== null, null, 'status dot live (green)');
  checks.dotLive = true;
  const pointCount = () => (window.meso360 ? window.meso360.charts.pointCount() : 0);
  await until(page, pointCount, null, 'history drawn');
  const first = await page.evaluate(pointCount);
  await until(
    page,
    (n) => (window.meso360 ? window.meso360.charts.pointCount() : 0) >= n,
    first + 2,
    'live rows drawn on the charts',
  );
  checks.pointsFirst = first;
  checks.pointsLater = await page.evaluate(pointCount);
  const ids = await page.evaluate(() => window.meso360.buffer.points.map((p) => p.id));
  checks.idsUniqueSorted = new Set(ids).size === ids.length && ids.every((id, i) => i === 0 || ids[i - 1] < id);
  // every chart has a canvas with pixels drawn by uPlot
  checks.chartCanvases = await page.$$eval('.chart-card canvas', (nodes) => nodes.filter((c) => c.width > 0).length);
  await until(
    page,
    () => /^-?\d+(\.\d+)? ?°C$/.test((document.querySelector('#obs-cur-t')?.textContent ?? '').trim()),
    null,
    'current temperature shown as a number in °C',
  );
  checks.currentT = await text(page, '#obs-cur-t');
  checks.currentTd = await text(page, '#obs-cur-td');
  checks.currentWspd = await text(page, '#obs-cur-wspd');
  checks.currentPressure = await text(page, '#obs-cur-pressure');
  checks.fix = await text(page, '#obs-fix');
  checks.lastUpdate = await text(page, '#last-update');
  checks.vehicle = await text(page, '#vehicle');
  checks.title = await page.title();
  // the track map (map.js): the live track drawn, the us-atlas counties loaded
  await until(
    page,
    () => {
      const map = document.getElementById('track-map').trackMap;
      const state = map && map.debug();
      return state && state.atlasLoaded && state.track.length > 0;
    },
    null,
    'track map drawn with the us-atlas loaded',
  );
  checks.map = await page.evaluate(() => {
    const map = document.getElementById('track-map').trackMap;
    const state = map.debug();
    const newest = state.current.point;
    return {
      inside: state.track.every((p) => p.x >= 0 && p.x <= state.width && p.y >= 0 && p.y <= state.height),
      county: map.countyAt(newest.lon, newest.lat),
    };
  });
  // °F and back: the cards and the chart axis follow
  await page.click('#unit-f');
  await until(page, () => (document.querySelector('#obs-cur-t')?.textContent ?? '').trim().endsWith('°F'), null, '°F');
  checks.axisF = await page.evaluate(() => window.meso360.charts.charts[0].u.axes[1].label);
  await page.click('#unit-c');
  await until(page, () => (document.querySelector('#obs-cur-t')?.textContent ?? '').trim().endsWith('°C'), null, '°C');
  await page.screenshot({ path: path.join(opts.artifacts, 'firefox-dashboard.png'), fullPage: true });
  await page.close();
}

async function checkControl(browser) {
  const page = await browser.newPage();
  watch(page, '/');
  await page.setViewport({ width: 1440, height: 900 });
  await page.goto(`${opts.web}/`, { waitUntil: 'load' });
  await until(page, () => document.querySelector('#component-sim') !== null, null, 'units listed');
  checks.units = await page.$$eval('#components [id^="component-"]', (nodes) => nodes.map((n) => n.id));
  await until(page, () => !document.querySelector('#login-form').classList.contains('hidden'), null, 'login form');
  checks.loginFormVisible = await visible(page, '#login-form');
  checks.restartDisabledLoggedOut = await page.$eval(
    "#component-sim button[data-action='restart']",
    (button) => button.disabled,
  );
  await page.type('#password', opts.password);
  await page.click('#login-btn');
  await until(page, () => !document.querySelector('#logged-in').classList.contains('hidden'), null, 'logged in');
  await until(
    page,
    () => document.querySelector("#component-sim button[data-action='restart']:not([disabled])") !== null,
    null,
    'control buttons enabled after login',
  );
  checks.restartEnabledLoggedIn = true;
  // The journal tail (here: why there is none), without a stale "connecting..." line above it.
  await until(page, () => /no systemd/.test(document.querySelector('#tail').textContent) && !/connecting/.test(document.querySelector('#tail').textContent), null, 'journal tail shown');
  checks.heartbeat = await text(page, '#heartbeat-text');
  await page.screenshot({ path: path.join(opts.artifacts, 'firefox-control.png'), fullPage: true });
  await page.close();

  const readonly = await browser.newPage();
  watch(readonly, '/ (read-only)');
  await readonly.goto(`${opts.readonly}/`, { waitUntil: 'load' });
  await until(
    readonly,
    () => !document.querySelector('#readonly-note').classList.contains('hidden'),
    null,
    'read-only note',
  );
  await until(readonly, () => document.querySelector('#component-ingest') !== null, null, 'units listed (read-only)');
  checks.readonlyNote = (await text(readonly, '#readonly-note')).split(/\s+/).join(' ');
  checks.readonlyButtons = await readonly.$$eval('#components button', (nodes) => nodes.length);
  checks.readonlyLoginVisible = await visible(readonly, '#login-form');
  await readonly.close();
}

const failure = await runInFirefox(opts, async (browser) => {
  checks.browserVersion = await browser.version();
  await checkDashboard(browser);
  await checkControl(browser);
});
const ok = failure === null && errors.length === 0 && foreignRequests.length === 0;
process.stdout.write(`${JSON.stringify({ ok, checks, errors, foreignRequests, failure })}\n`);
