// Headless Chromium on the running server's API docs pages (driven by playwright-core):
// /docs sends a send-otp through Swagger UI's "Try it out" and must show the 200 reply,
// then /redoc must render the document. Fails on any console error, failed or refused
// request, or request to a host other than the server's loopback address.
//
// node docs_try_it_out.cjs --base-url http://127.0.0.1:PORT --modules DIR --chromium PATH
//                          --screenshot FILE --country-code +1 --mobile-number 2025550123
// DIR is the node_modules folder that holds playwright-core (docs/api-ui/node_modules).
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');

function parseArgs(argv) {
  const args = {};
  for (let i = 0; i < argv.length; i += 2) {
    if (!argv[i].startsWith('--') || i + 1 >= argv.length) throw new Error(`bad argument ${argv[i]}`);
    args[argv[i].slice(2)] = argv[i + 1];
  }
  for (const name of ['base-url', 'modules', 'chromium', 'screenshot', 'country-code', 'mobile-number']) {
    if (!args[name]) throw new Error(`--${name} is required`);
  }
  return args;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const base = new URL(args['base-url']);
  if (base.hostname !== '127.0.0.1') throw new Error(`--base-url must be on 127.0.0.1, not ${base.hostname}`);
  const { chromium } = require(path.join(args.modules, 'playwright-core'));

  const problems = [];
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'testino-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: args.chromium,
    headless: true,
    viewport: { width: 1280, height: 900 },
    args: [
      '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync',
      // Nothing but the server resolves: a stray request fails instead of leaving the machine.
      '--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1',
    ],
  });
  try {
    // Every request the pages make: only the server's origin (and in-page data:/blob:) passes.
    await context.route('**/*', (route) => {
      const url = new URL(route.request().url());
      if (url.origin === base.origin) return route.continue();
      problems.push(`request to another origin refused: ${route.request().url()}`);
      return route.abort('blockedbyclient');
    });
    const page = context.pages()[0] || (await context.newPage());
    page.setDefaultTimeout(15000);
    page.on('console', (msg) => {
      if (msg.type() === 'error' || msg.type() === 'warning' && /Content Security Policy/i.test(msg.text())) {
        problems.push(`console ${msg.type()} on ${page.url()}: ${msg.text()}`);
      }
    });
    page.on('pageerror', (error) => problems.push(`page error on ${page.url()}: ${error.message}`));
    page.on('requestfailed', (request) => {
      problems.push(`request failed: ${request.url()} (${request.failure() && request.failure().errorText})`);
    });
    page.on('response', (response) => {
      if (response.status() >= 400) problems.push(`HTTP ${response.status()} for ${response.url()}`);
    });

    // Swagger UI: POST /api/v1/auth/send-otp through "Try it out".
    const docs = await page.goto(new URL('/docs', base).href, { waitUntil: 'load' });
    if (docs.status() !== 200) throw new Error(`/docs answered ${docs.status()}`);
    const operation = page.locator('.opblock-post').filter({
      has: page.locator('.opblock-summary-path[data-path="/api/v1/auth/send-otp"]'),
    });
    await operation.locator('.opblock-summary').first().click();
    await operation.getByRole('button', { name: 'Try it out' }).click();
    const body = JSON.stringify({ country_code: args['country-code'], mobile_number: args['mobile-number'] });
    await operation.locator('textarea.body-param__text').fill(body);
    const sent = page.waitForResponse(
      (r) => r.url() === new URL('/api/v1/auth/send-otp', base).href && r.request().method() === 'POST');
    await operation.getByRole('button', { name: 'Execute' }).click();
    const reply = await sent;
    if (reply.status() !== 200) throw new Error(`send-otp answered ${reply.status()}: ${await reply.text()}`);
    // What the page shows of the reply, not just what the network saw.
    const live = operation.locator('.live-responses-table .response').first();
    await live.locator('.response-col_status', { hasText: '200' }).waitFor();
    const shown = await live.locator('.response-col_description pre').first().innerText();
    if (!/"success":\s*true/.test(shown)) throw new Error(`the page shows no "success": true: ${shown}`);
    await live.scrollIntoViewIfNeeded();
    fs.mkdirSync(path.dirname(args.screenshot), { recursive: true });
    await page.screenshot({ path: args.screenshot, fullPage: true });

    // Redoc renders the same document.
    const redoc = await page.goto(new URL('/redoc', base).href, { waitUntil: 'load' });
    if (redoc.status() !== 200) throw new Error(`/redoc answered ${redoc.status()}`);
    await page.locator('h1', { hasText: 'Testino Auth Server' }).first().waitFor();
    await page.locator('[role="menuitem"]', { hasText: 'Send' }).first().waitFor({ state: 'attached' });

    // Late console messages or requests still count.
    await page.waitForTimeout(300);
    if (problems.length) throw new Error(`problems on the pages:\n  ${problems.join('\n  ')}`);
    console.log(JSON.stringify({ ok: true, send_otp_status: reply.status(), shown, screenshot: args.screenshot }));
  } finally {
    await context.close();
    fs.rmSync(userDataDir, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(`docs_try_it_out: FAILED: ${error && error.stack ? error.stack : error}`);
  process.exit(1);
});
