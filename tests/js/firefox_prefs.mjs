// firefox_prefs.mjs — the Firefox preferences and loopback hosts of the Firefox checks (firefox_check.mjs,
// firefox_dashboard_check.mjs), and the launch both share (runInFirefox).
//
// Nothing but the pages under test may use the network: no updates, telemetry, remote settings, safe browsing,
// add-on or region lookups, captive-portal or connectivity probes, DoH or prefetching. Everything that is not
// loopback goes to a proxy on a closed loopback port (loopback itself is never proxied), so even a background
// request that no pref covers cannot leave the machine.
import puppeteer from 'puppeteer-core';

export const PREFS = {
  'app.update.enabled': false,
  'app.update.auto': false,
  'app.normandy.enabled': false,
  'app.normandy.api_url': '',
  'app.shield.optoutstudies.enabled': false,
  'datareporting.healthreport.uploadEnabled': false,
  'datareporting.policy.dataSubmissionEnabled': false,
  'datareporting.usage.uploadEnabled': false,
  'toolkit.telemetry.enabled': false,
  'toolkit.telemetry.unified': false,
  'toolkit.telemetry.archive.enabled': false,
  'toolkit.telemetry.server': '',
  'browser.ping-centre.telemetry': false,
  'browser.newtabpage.activity-stream.feeds.telemetry': false,
  'browser.newtabpage.activity-stream.telemetry': false,
  'browser.safebrowsing.malware.enabled': false,
  'browser.safebrowsing.phishing.enabled': false,
  'browser.safebrowsing.downloads.enabled': false,
  'browser.safebrowsing.downloads.remote.enabled': false,
  'browser.safebrowsing.blockedURIs.enabled': false,
  'browser.safebrowsing.provider.google4.updateURL': '',
  'browser.safebrowsing.provider.google.updateURL': '',
  'browser.safebrowsing.provider.mozilla.updateURL': '',
  'extensions.getAddons.cache.enabled': false,
  'extensions.getAddons.showPane': false,
  'extensions.update.enabled': false,
  'extensions.blocklist.enabled': false,
  'extensions.systemAddon.update.enabled': false,
  'browser.region.network.url': '',
  'browser.region.update.enabled': false,
  'browser.search.update': false,
  'browser.search.geoip.url': '',
  'geo.provider.network.url': '',
  'network.captive-portal-service.enabled': false,
  'captivedetect.canonicalURL': '',
  'network.connectivity-service.enabled': false,
  'network.prefetch-next': false,
  'network.dns.disablePrefetch': true,
  'network.predictor.enabled': false,
  'network.http.speculative-parallel-limit': 0,
  'network.trr.mode': 5,
  'services.settings.server': 'http://127.0.0.1:9/remote-settings-disabled',
  'services.sync.engine.addons': false,
  'identity.fxaccounts.enabled': false,
  'messaging-system.rsexperimentloader.enabled': false,
  'browser.newtabpage.enabled': false,
  'browser.startup.page': 0,
  'browser.startup.homepage': 'about:blank',
  'network.proxy.type': 1,
  'network.proxy.http': '127.0.0.1',
  'network.proxy.http_port': 9,
  'network.proxy.ssl': '127.0.0.1',
  'network.proxy.ssl_port': 9,
  'network.proxy.no_proxies_on': '',
  'network.proxy.allow_hijacking_localhost': false,
};

export const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

/** Whether a page's request leaves loopback (data:, blob: and about: URLs never do). */
export function isForeign(url) {
  if (/^(data|blob|about):/.test(url)) return false;
  try {
    return !LOOPBACK.has(new URL(url).hostname);
  } catch {
    return true;
  }
}

// runInFirefox(opts, steps): launch the Debian firefox-esr (opts.firefox) headless on the new profile opts.profile
// with PREFS, await steps(browser), close it; return null, or the failure's stack as text.
export async function runInFirefox(opts, steps) {
  let browser = null;
  try {
    browser = await puppeteer.launch({
      browser: 'firefox',
      executablePath: opts.firefox,
      headless: true,
      userDataDir: opts.profile,
      extraPrefsFirefox: PREFS,
      timeout: 30000,
    });
    await steps(browser);
    return null;
  } catch (error) {
    return String(error.stack ?? error);
  } finally {
    if (browser) await browser.close().catch(() => {});
  }
}

// watchPage(page, outcome, label, options): note the page's script errors, console errors and (unless
// options.statuses is false) answers of status 400 and above in outcome.errors, and each request that leaves
// loopback in outcome.foreignRequests. options.ignoreConsole(text): a console error to let pass.
export function watchPage(page, outcome, label = '', { statuses = true, ignoreConsole = () => false } = {}) {
  const prefix = label ? `${label} ` : '';
  page.on('pageerror', (error) => outcome.errors.push(`${prefix}pageerror: ${error.message ?? error}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error' && !ignoreConsole(msg.text())) outcome.errors.push(`${prefix}console: ${msg.text()}`);
  });
  if (statuses) {
    page.on('response', (answer) => {
      if (answer.status() >= 400) outcome.errors.push(`${prefix}${answer.status()} ${answer.url()}`);
    });
  }
  page.on('request', (request) => {
    if (isForeign(request.url())) outcome.foreignRequests.push(request.url());
  });
}

// waitUntil(page, fn, arg, what, timeoutMs): page.waitForFunction polling every 200 ms; a timeout names `what`.
export async function waitUntil(page, fn, arg, what, timeoutMs) {
  try {
    return await page.waitForFunction(fn, { timeout: timeoutMs, polling: 200 }, arg);
  } catch (error) {
    throw new Error(`timed out after ${timeoutMs} ms: ${what} (${error.message.split('\n')[0]})`);
  }
}
