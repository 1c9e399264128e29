// The owner console signing in through Clerk's browser SDK, the way it does in production.
//
// No Clerk instance can exist here, so the SDK is a stand-in: the browser answers requests to
// the Frontend API the publishable key names with a script that implements the part of
// clerk-js v5 the console uses, as Clerk documents it (the script creates `window.Clerk` from
// its `data-clerk-publishable-key`; `load({ nonce })`, `user`, `session.getToken()`,
// `mountSignIn(el, props)`, `unmountSignIn(el)`, `addListener(cb)`, `signOut()`). Nothing
// leaves the machine.
//
// What this proves: the page asks for the SDK at exactly the origin the key names, its CSP
// admits that script and the styles the SDK marks with the page's nonce (and nothing else),
// the page mounts Clerk's sign-in and waits for a session, every API call then carries a
// token fresh from `session.getToken()` (a locally minted RS256 token, which the API
// verifies as it would Clerk's), and signing out goes through Clerk. What it cannot prove:
// Clerk's own sign-in screens and its tokens; those are Clerk's (docs/console.md).
//
// Needs: API_URL (a server started with CLERK_PUBLISHABLE_KEY), CLERK_ORIGIN (the Frontend
// API that key names) and ADMIN_TOKEN. SHOTS_DIR as for console.mjs.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const api = process.env.API_URL;
const clerkOrigin = process.env.CLERK_ORIGIN;
const token = process.env.ADMIN_TOKEN;
const origin = new URL(api).origin;
const shots = process.env.SHOTS_DIR || join(process.env.CARGO_TARGET_DIR || 'target', 'browser-check');
mkdirSync(shots, { recursive: true });
let passed = 0, failed = 0;
const check = (ok, what) => { if (ok) { passed++; console.log(`ok - ${what}`); } else { failed++; console.log(`not ok - ${what}`); } };

// The stand-in SDK. Its session's token is the admin token the stack minted.
const standIn = `(() => {
  const tag = document.currentScript;
  const listeners = [];
  const calls = window.__clerk = { key: tag && tag.getAttribute('data-clerk-publishable-key'), load: [], mounted: [], unmounted: 0, tokens: 0, signedOut: 0 };
  const clerk = {
    user: null,
    session: null,
    async load(options) {
      calls.load.push(options || {});
      // Clerk's UI injects its styles at run time, marked with the nonce it was given.
      const style = document.createElement('style');
      if (options && options.nonce) style.nonce = options.nonce;
      style.textContent = '.cl-stand-in { outline: 3px solid rgb(1, 2, 3); }';
      document.head.appendChild(style);
    },
    mountSignIn(el, props) {
      calls.mounted.push(props || {});
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'cl-stand-in';
      button.textContent = 'Continue with Clerk';
      button.onclick = () => {
        clerk.user = { id: 'user_stack_owner', primaryEmailAddress: { emailAddress: 'owner@pitalya.example' } };
        clerk.session = { id: 'sess_stand_in', getToken: async () => { calls.tokens++; return ${JSON.stringify(token)}; } };
        for (const l of listeners) l({ user: clerk.user, session: clerk.session });
      };
      el.appendChild(button);
    },
    unmountSignIn(el) { calls.unmounted++; el.replaceChildren(); },
    addListener(cb) { listeners.push(cb); return () => {}; },
    async signOut() { calls.signedOut++; clerk.user = null; clerk.session = null; if (window.clerkSignedOut) await window.clerkSignedOut(); },
  };
  window.Clerk = clerk;
})();`;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
         '--disable-component-update', '--disable-sync'],
});
const outside = [];
const sdkRequests = [];
const apiCalls = [];
const broken = [];
try {
  const page = await browser.newPage();
  let signedOut = 0;
  await page.exposeFunction('clerkSignedOut', () => { signedOut++; });
  await page.route(`${clerkOrigin}/**`, (route) => {
    sdkRequests.push(route.request().url());
    // The page loads the SDK with crossorigin="anonymous", as Clerk's CDN answers it.
    route.fulfill({ status: 200, contentType: 'application/javascript', headers: { 'access-control-allow-origin': '*' }, body: standIn });
  });
  await page.addInitScript(() => {
    window.__csp = [];
    document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  page.on('request', (r) => {
    const u = new URL(r.url());
    if (u.origin === origin && u.pathname.startsWith('/admin/') && !u.pathname.startsWith('/admin/console.')) {
      apiCalls.push({ path: u.pathname, authorization: r.headers().authorization });
    } else if (u.origin !== origin && u.origin !== clerkOrigin && !['data:', 'blob:'].includes(u.protocol)) {
      outside.push(r.url());
    }
  });
  page.on('pageerror', (e) => broken.push(`page error: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') broken.push(`console: ${m.text()}`); });

  const res = await page.goto(`${api}/admin`);
  check(res.status() === 200, `GET /admin answers 200 (${res.status()})`);
  const csp = res.headers()['content-security-policy'] || '';
  check(csp.includes(`script-src 'self' ${clerkOrigin};`), `the CSP admits scripts from the key's Frontend API only (${csp})`);
  check(/style-src 'self' 'nonce-[0-9a-f]+'/.test(csp), 'the CSP admits styles marked with a nonce');

  const signIn = page.getByRole('button', { name: 'Continue with Clerk' });
  await signIn.waitFor({ timeout: 15000 });
  check(sdkRequests.length === 1 && sdkRequests[0] === `${clerkOrigin}/npm/@clerk/clerk-js@5/dist/clerk.browser.js`,
    `the page loads clerk-js v5 from the key's Frontend API (${sdkRequests.join(', ')})`);
  const calls = await page.evaluate(() => window.__clerk);
  check(calls.key && calls.key.startsWith('pk_test_'), 'the SDK is handed the publishable key');
  check(calls.load.length === 1 && /^[0-9a-f]{32}$/.test(calls.load[0].nonce || ''), `Clerk.load gets the page's nonce (${JSON.stringify(calls.load)})`);
  check(calls.mounted.length === 1 && calls.mounted[0].routing === 'virtual', `sign-in is mounted with virtual routing (${JSON.stringify(calls.mounted)})`);
  const outline = await signIn.evaluate((b) => getComputedStyle(b).outlineColor);
  check(outline === 'rgb(1, 2, 3)', `the SDK's nonce'd styles apply (${outline})`);
  check(apiCalls.length === 0, `nothing is asked of the API before a session exists (${apiCalls.length})`);
  await page.screenshot({ path: join(shots, 'clerk-1-sign-in.png'), fullPage: true });

  await signIn.click();
  await page.locator('#queue').waitFor({ timeout: 15000 });
  check(true, 'once Clerk has a session the console opens on the fulfilment queue');
  check((await page.locator('#who').textContent()).includes('owner@pitalya.example'), 'the header names the signed-in owner');
  check(await page.locator('.cl-stand-in').count() === 0, 'the sign-in is unmounted');
  await page.getByRole('button', { name: 'Products' }).click();
  await page.locator('#main table').first().waitFor({ timeout: 15000 });
  await page.screenshot({ path: join(shots, 'clerk-2-signed-in.png'), fullPage: true });
  const after = await page.evaluate(() => window.__clerk);
  check(apiCalls.length >= 2 && apiCalls.every((c) => c.authorization === `Bearer ${token}`),
    `every API call carries the session's token (${apiCalls.map((c) => c.path).join(', ')})`);
  check(after.tokens >= apiCalls.length, `each call asks Clerk for its token (${after.tokens} for ${apiCalls.length} calls)`);

  await page.getByRole('button', { name: 'Sign out' }).click();
  await signIn.waitFor({ timeout: 15000 });
  check(true, 'signing out comes back to Clerk\'s sign-in');
  check(signedOut === 1, `the console signed out through Clerk (${signedOut})`);
  const stored = await page.evaluate(() => ({ local: localStorage.length, session: sessionStorage.length, cookie: document.cookie }));
  check(stored.local === 0 && stored.session === 0 && stored.cookie === '', `the console stores nothing itself (${JSON.stringify(stored)})`);
  const violations = await page.evaluate(() => window.__csp);
  check(violations.length === 0, `no CSP violations (${violations.join('; ')})`);
  check(outside.length === 0, `no request outside the API and Clerk (${outside.join(', ')})`);
  check(broken.length === 0, `no page errors (${broken.join('; ')})`);
} catch (e) {
  failed++;
  console.log(`not ok - ${e.stack || e}`);
} finally {
  await browser.close();
}
console.log(`${passed} checks passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
