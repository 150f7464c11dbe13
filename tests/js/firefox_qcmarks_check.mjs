// The dashboard's QC marks in the Debian firefox-esr, headless, driven by puppeteer-core over WebDriver BiDi. Run by
// tests/integration/test_qc_marks.py:
//
//   node firefox_qcmarks_check.mjs '{"web": "http://127.0.0.1:P", "ts": [T1, T2], "profile": "/tmp/empty-dir",
//                                    "artifacts": "test-artifacts", "firefox": "/usr/bin/firefox-esr", "timeoutMs": 30000}'
//
// Waits until the temperature chart has drawn a mark at every time of "ts", then hovers each and reads the legend.
// Prints one JSON object on stdout: {"checks": {"drawn": [...], "expected": [...], "legends": {...}}, "errors": [...],
// "foreignRequests": [...], "failure": "..."}; the pytest test asserts on it. Console errors are not filtered.
import path from 'node:path';
import { runInFirefox, waitUntil, watchPage } from './firefox_prefs.mjs';

const opts = JSON.parse(process.argv[2]);
const deadlineMs = opts.timeoutMs ?? 30000;
const errors = [];
const foreignRequests = [];
const checks = {};

const outcome = { errors, foreignRequests };
const watch = (page) => watchPage(page, outcome);
const until = (page, fn, arg, what) => waitUntil(page, fn, arg, what, deadlineMs);

const failure = await runInFirefox(opts, async (browser) => {
  checks.browserVersion = await browser.version();
  const page = await browser.newPage();
  watch(page);
  await page.setViewport({ width: 1400, height: 900 });
  await page.goto(`${opts.web}/view`, { waitUntil: 'load' });
  await until(page, () => document.querySelector('#conn-dot.dot-live') !== null, null, 'status dot live');
  await until(
    page,
    (times) => times.every((ts) => (window.meso360.qcMarks.drawn.temp || []).some((m) => m.ts === ts)),
    opts.ts,
    'the marks drawn on the temperature chart',
  );
  await page.click('#pause-btn'); // the live window stops scrolling: each mark stays where the mouse is sent
  await new Promise((resolve) => setTimeout(resolve, 500)); // a draw already scheduled lands first
  checks.drawn = await page.evaluate(() => window.meso360.qcMarks.drawn.temp);
  checks.expected = await page.evaluate(() => {
    const u = window.meso360.charts.charts[0].u;
    return window.meso360.qcMarks.drawn.temp.map((m) => {
      const i = u.data[0].indexOf(m.ts);
      return [m.ts, u.valToPos(m.ts, 'x'), u.valToPos(u.data[1][i], 'y')];
    });
  });
  checks.legends = {};
  const over = await page.$('.chart-temp .u-over');
  const box = await over.boundingBox();
  for (const mark of checks.drawn) {
    await page.mouse.move(box.x + mark.x, box.y + mark.y);
    await until(page, () => document.querySelector('.chart-temp .u-legend').textContent.includes('·'), null, 'flag in the hover');
    checks.legends[mark.checks] = await page.evaluate(() => document.querySelector('.chart-temp .u-legend').textContent);
  }
  await page.screenshot({ path: path.join(opts.artifacts, 'qc-marks-firefox.png') });
  await page.close();
});
process.stdout.write(`${JSON.stringify({ checks, errors, foreignRequests, failure })}\n`);
