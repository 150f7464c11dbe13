// The dashboard's drag zoom, its layout by width and the pages' icon in the Debian firefox-esr, headless, driven by
// puppeteer-core over WebDriver BiDi. Run by tests/integration/test_browser_dashboard.py:
//
//   node firefox_dashboard_check.mjs '{"web": "http://127.0.0.1:P", "profile": "/tmp/empty-dir",
//                                      "artifacts": "test-artifacts", "firefox": "/usr/bin/firefox-esr", "timeoutMs": 30000}'
//
// Prints one JSON object on stdout: {"checks": {...}, "errors": [...], "foreignRequests": [...], "failure": "..."};
// the pytest test asserts on it. Console errors are not filtered: a missing icon or a script error fails the test.
import path from 'node:path';
import { runInFirefox, waitUntil, watchPage } from './firefox_prefs.mjs';

const opts = JSON.parse(process.argv[2]);
const deadlineMs = opts.timeoutMs ?? 30000;
const errors = [];
const foreignRequests = [];
const checks = {};

const outcome = { errors, foreignRequests };
const watch = (page, label) => watchPage(page, outcome, label);
const until = (page, fn, arg, what, timeoutMs = deadlineMs) => waitUntil(page, fn, arg, what, timeoutMs);

async function openDashboard(browser, width, height) {
  const page = await browser.newPage();
  watch(page, `/view ${width}px`);
  await page.setViewport({ width, height });
  await page.goto(`${opts.web}/view`, { waitUntil: 'load' });
  await until(page, () => document.querySelector('#conn-dot.dot-live') !== null, null, 'status dot live');
  await until(page, () => window.meso360 && window.meso360.charts.pointCount() > 0, null, 'history drawn');
  return page;
}

/** Drag across 25 %..65 % of the first chart; the window must become exactly those pixels' times, on every chart. */
async function checkZoom(browser) {
  const page = await openDashboard(browser, 1400, 900);
  checks.userAgent = await page.evaluate(() => navigator.userAgent);
  await until(
    page,
    () => (c => (c.ceil > Date.now() / 1000 - 3600 ? c.ceil - c.floor : 0))(window.meso360.charts) >= 60,
    null,
    'a minute of live rows',
    90000,
  );
  await page.click('#pause-btn'); // the window stops following new rows
  const full = await page.evaluate(() => window.meso360.charts.window());
  const plot = await page.evaluate(() => {
    const { u } = window.meso360.charts.charts[0];
    const r = u.over.getBoundingClientRect();
    return { left: r.left, top: r.top, width: r.width, height: r.height };
  });
  const x0 = Math.round(plot.width * 0.25);
  const x1 = Math.round(plot.width * 0.65);
  const expected = await page.evaluate(
    (a, b) => {
      const { u } = window.meso360.charts.charts[0];
      return [u.posToVal(a, 'x'), u.posToVal(b, 'x'), (u.scales.x.max - u.scales.x.min) / (u.bbox.width / devicePixelRatio)];
    },
    x0,
    x1,
  );
  const y = plot.top + plot.height / 2;
  await page.mouse.move(plot.left + x0, y);
  await page.mouse.down();
  await page.mouse.move(plot.left + (x0 + x1) / 2, y, { steps: 4 });
  await page.mouse.move(plot.left + x1, y, { steps: 4 });
  await page.mouse.up();
  await until(page, () => !document.querySelector('#reset-zoom').classList.contains('hidden'), null, 'zoomed');
  const ranges = await page.evaluate(() => window.meso360.charts.charts.map((c) => [c.def.key, c.u.scales.x.min, c.u.scales.x.max]));
  checks.zoom = { full, expected: expected.slice(0, 2), pixelS: expected[2], ranges };
  await page.close();
}

/** The layout at three widths, with Firefox's own (desktop) user agent. */
async function checkLayout(browser) {
  checks.layout = {};
  for (const [width, height] of [[390, 844], [768, 1024], [1400, 900]]) {
    const page = await openDashboard(browser, width, height);
    checks.layout[width] = await page.evaluate(() => {
      const w = document.documentElement.clientWidth;
      const overflowing = [];
      for (const n of document.body.querySelectorAll('*')) {
        if (n.closest('.uplot') && !n.classList.contains('uplot')) continue;
        const r = n.getBoundingClientRect();
        if (r.width === 0 && r.height === 0) continue;
        if (r.left < -0.5 || r.right > w + 0.5) overflowing.push(`${n.tagName}.${n.className} ${r.left}..${r.right}`);
      }
      return {
        narrow: document.documentElement.classList.contains('layout-narrow'),
        widths: window.meso360.charts.charts.map((c) => c.u.width),
        scrollWidth: document.documentElement.scrollWidth,
        overflowing,
      };
    });
    await page.screenshot({ path: path.join(opts.artifacts, `firefox-dashboard-${width}.png`), fullPage: true });
    await page.close();
  }
}

/** /favicon.ico, the manifest and its icons as the pages' links give them; / and /view load without an error. */
async function checkIcons(browser) {
  checks.pagesLoaded = [];
  const panel = await browser.newPage();
  watch(panel, '/');
  await panel.setViewport({ width: 1400, height: 900 });
  await panel.goto(`${opts.web}/`, { waitUntil: 'load' });
  await until(panel, () => document.querySelector('#component-sim') !== null, null, 'units listed');
  checks.pagesLoaded.push('/');
  const found = await panel.evaluate(async () => {
    const favicon = await fetch('/favicon.ico');
    const manifestUrl = document.querySelector('link[rel="manifest"]').href;
    const manifest = await (await fetch(manifestUrl)).json();
    const icons = {};
    for (const icon of manifest.icons) icons[icon.src] = (await fetch(icon.src)).status;
    return { favicon: [favicon.status, favicon.headers.get('Content-Type')], manifest, icons };
  });
  checks.favicon = found.favicon;
  checks.manifest = found.manifest;
  checks.manifestIcons = found.icons;
  await panel.close();
  const dashboard = await openDashboard(browser, 1400, 900);
  checks.pagesLoaded.push('/view');
  await dashboard.close();
}

const failure = await runInFirefox(opts, async (browser) => {
  checks.browserVersion = await browser.version();
  await checkIcons(browser);
  await checkLayout(browser);
  await checkZoom(browser);
});
process.stdout.write(`${JSON.stringify({ checks, errors, foreignRequests, failure })}\n`);
