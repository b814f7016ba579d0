// Drives headless Chromium (Debian's /usr/bin/chromium; never a downloaded
// browser) through the scenarios given by browser_test.go in the
// BROWSER_TEST environment variable, printing one "RESULT <json>" line per
// scenario and "DEMO <json>" for the demo page check.
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const cfg = JSON.parse(process.env.BROWSER_TEST);
const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-chromium-'));
const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  viewport: { width: 1100, height: 720 },
});

async function control(action, arg, apiURL) {
  if (action === 'publish') {
    const r = await fetch(apiURL + '/api/publish', {
      method: 'POST', headers: { 'X-API-Key': cfg.apiKey, 'Content-Type': 'application/json' }, body: JSON.stringify(arg),
    });
    const body = await r.json();
    if (r.status !== 200 || body.error) throw new Error('publish failed: ' + r.status + ' ' + JSON.stringify(body));
    return;
  }
  const r = await fetch(cfg.controlURL + '/' + action, { method: 'POST' });
  if (r.status !== 204) throw new Error(action + ' failed: ' + r.status);
}

let failed = false;
try {
  for (const s of cfg.scenarios) {
    const page = await context.newPage();
    page.on('console', m => console.log('[' + s.name + '] console:', m.text()));
    await page.exposeFunction('control', (action, arg) => control(action, arg, s.apiURL));
    await page.goto(cfg.pageURL);
    try {
      const res = await page.evaluate(sc => window.runScenario(sc), s);
      console.log('RESULT ' + JSON.stringify({ name: s.name, ...res }));
    } catch (e) {
      failed = true;
      console.log('RESULT ' + JSON.stringify({ name: s.name, error: String(e.message || e) }));
    }
    await page.close();
  }

  const demo = await context.newPage();
  await demo.exposeFunction('control', (action, arg) => control(action, arg, cfg.demo.apiURL));
  await demo.goto(cfg.demo.url);
  await demo.waitForFunction(() => document.getElementById('status').textContent === 'connected', null, { timeout: 15000 });
  await demo.waitForFunction(() => document.querySelectorAll('#presence li').length >= 1, null, { timeout: 15000 });
  await demo.fill('#input', 'Hello from headless Chromium');
  await demo.click('#send');
  await demo.waitForFunction(() => document.querySelectorAll('#messages li').length >= 1, null, { timeout: 15000 });
  await control('cut', null, cfg.demo.apiURL);
  await demo.waitForFunction(() => document.getElementById('status').textContent !== 'connected', null, { timeout: 15000 });
  await control('publish', { channel: 'chat:demo', data: { user: 'server', text: 'Sent while you were offline' } }, cfg.demo.apiURL);
  await control('resume', null, cfg.demo.apiURL);
  await demo.waitForFunction(() => window.heraldDemo.recovered >= 1 &&
    [...document.querySelectorAll('#messages li')].some(li => li.textContent.includes('offline')), null, { timeout: 15000 });
  await demo.screenshot({ path: cfg.demo.screenshot, fullPage: true });
  const state = await demo.evaluate(() => ({
    status: document.getElementById('status').textContent,
    transport: document.getElementById('transport').textContent,
    messages: [...document.querySelectorAll('#messages li')].map(li => li.textContent),
    presence: document.querySelectorAll('#presence li').length,
    recovered: window.heraldDemo.recovered,
  }));
  console.log('DEMO ' + JSON.stringify(state));
} catch (e) {
  failed = true;
  console.log('ERROR ' + (e.stack || e));
} finally {
  await context.close();
  fs.rmSync(userDataDir, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
