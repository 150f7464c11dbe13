// The base's fleet page (meso360-base-web) in the Debian firefox-esr, headless, driven by puppeteer-core over
// WebDriver BiDi. Run by tests/integration/test_base_web.py:
//
//   node firefox_fleet_check.mjs '{"url": "http://127.0.0.1:P", "vehicles": 3, "profile": "/tmp/empty-dir",
//                                  "artifacts": "test-artifacts", "firefox": "/usr/bin/firefox-esr", "timeoutMs": 30000}'
//
// Waits for a table row per vehicle and their markers on the map with its boundaries, then reads them.
// Prints one JSON object on stdout: {"checks": {...}, "errors": [...], "foreignRequests": [...], "failure": "..."};
// the pytest test asserts on it. Console errors are not filtered.
import path from 'node:path';
import { runInFirefox, waitUntil, watchPage } from './firefox_prefs.mjs';

const opts = JSON.parse(process.argv[2]);
const deadlineMs = opts.timeoutMs ?? 30000;
const outcome = { errors: [], foreignRequests: [] };
const checks = {};

const failure = await runInFirefox(opts, async (browser) => {
  checks.browserVersion = await browser.version();
  const page = await browser.newPage();
  watchPage(page, outcome);
  await page.setViewport({ width: 1280, height: 900 });
  await page.goto(`${opts.url}/`, { waitUntil: 'load' });
  const count = opts.vehicles;
  await waitUntil(page, (n) => document.querySelectorAll('#fleet-table tbody tr').length === n, count, 'a row per vehicle', deadlineMs);
  checks.rows = await page.evaluate(() =>
    [...document.querySelectorAll('#fleet-table tbody tr')].map((r) => [
      r.dataset.vehicle,
      r.dataset.state,
      getComputedStyle(r.querySelector('.state')).color,
      r.querySelector('a').href,
    ]),
  );
  await waitUntil(
    page,
    (n) => {
      const debug = document.getElementById('fleet-map').trackMap.debug();
      return debug.atlasLoaded && debug.track.length === n;
    },
    count,
    'a marker per vehicle on the map with its boundaries',
    deadlineMs,
  );
  checks.map = await page.evaluate(() => document.getElementById('fleet-map').trackMap.debug());
  checks.alarms = await page.$eval('#fleet-alarms', (node) => node.textContent);
  checks.sshCommand = await page.$eval('#ssh-command', (node) => node.textContent);
  await page.screenshot({ path: path.join(opts.artifacts, 'base-fleet-page-firefox.png') });
  await page.close();
});
process.stdout.write(`${JSON.stringify({ checks, ...outcome, failure })}\n`);
