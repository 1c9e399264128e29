// The owner console in a real browser: open /admin#token=..., find a paid order in the queue,
// press Pack, try to ship it without a tracking number (the problem's detail and field error
// must show), ship it with Delhivery, and see the order shipped. Throughout, the page may
// request nothing outside its own origin, break no CSP rule and keep the token out of the URL
// and of every storage that outlives the tab.
// Needs a running stack: API_URL, ADMIN_TOKEN, ORDER_ID (a paid order).
import { chromium } from 'playwright-core';

const api = process.env.API_URL;
const token = process.env.ADMIN_TOKEN;
const orderId = process.env.ORDER_ID;
const origin = new URL(api).origin;
let passed = 0, failed = 0;
const check = (ok, what) => { if (ok) { passed++; console.log(`ok - ${what}`); } else { failed++; console.log(`not ok - ${what}`); } };

async function call(method, path, body) {
  const res = await fetch(`${api}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, body: await res.json() };
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
         '--disable-component-update', '--disable-sync'],
});
const outside = [];
const broken = [];
try {
  const before = await call('GET', `/admin/orders/${orderId}`);
  check(before.body.status === 'paid', `the order starts paid (${before.body.status})`);
  const page = await browser.newPage();
  page.on('request', (r) => {
    const u = r.url();
    if (!u.startsWith('data:') && !u.startsWith('blob:') && new URL(u).origin !== origin) outside.push(u);
  });
  page.on('pageerror', (e) => broken.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/Failed to load resource: the server responded with a status of 4\d\d/.test(m.text())) broken.push(`console: ${m.text()}`);
  });

  const res = await page.goto(`${api}/admin#token=${encodeURIComponent(token)}`);
  check(res.status() === 200, `GET /admin answers 200 (${res.status()})`);
  check(/frame-ancestors 'none'/.test(res.headers()['content-security-policy'] || ''), 'the page carries its CSP');

  const row = page.locator(`#queue tr[data-order="${orderId}"]`);
  await row.waitFor({ timeout: 15000 });
  check(true, 'the paid order is in the fulfilment queue');
  check(!page.url().includes('token'), `the token left the address bar (${page.url()})`);
  const stored = await page.evaluate(() => ({ local: localStorage.length, session: sessionStorage.length, cookie: document.cookie }));
  check(stored.local === 0 && stored.session === 0 && stored.cookie === '', `nothing stored (${JSON.stringify(stored)})`);
  check((await row.textContent()).includes('₹'), 'the queue shows the total in rupees');

  await row.getByRole('button', { name: 'Pack' }).click();
  const packed = page.locator(`#queue tr[data-order="${orderId}"][data-status="packed"]`);
  await packed.waitFor({ timeout: 15000 });
  check(true, 'Pack moved the order to packed in the queue');

  // A refusal: the API's own detail and field error must reach the owner.
  const expected = await call('POST', `/admin/orders/${orderId}/ship`, { carrier: 'Delhivery', trackingNumber: '' });
  check(expected.status === 400 && expected.body.detail, `shipping without a number is refused by the API (${expected.status})`);
  const form = packed.locator('form.ship-form');
  await form.locator('select[name="carrier"]').selectOption('Delhivery');
  await form.getByRole('button', { name: 'Ship' }).click();
  const problem = form.locator('.problem');
  await problem.waitFor({ timeout: 15000 });
  const text = await problem.textContent();
  check(text.includes(expected.body.detail), `the problem's detail is shown: "${text}"`);
  check(text.includes('trackingNumber'), 'the field error names trackingNumber');
  check(await form.locator('input[name="trackingNumber"].error-field').count() === 1, 'the tracking number input is highlighted');

  await form.locator('input[name="trackingNumber"]').fill('DLV1234567890');
  await form.getByRole('button', { name: 'Ship' }).click();
  await page.locator(`#queue tr[data-order="${orderId}"][data-status="shipped"]`).waitFor({ timeout: 15000 });
  check((await page.locator('#flash .notice').textContent()).includes('shipped with Delhivery'), 'the page confirms the shipment');
  await page.screenshot({ path: process.env.SCREENSHOT || 'console.png', fullPage: true });

  const after = await call('GET', `/admin/orders/${orderId}`);
  check(after.body.status === 'shipped', `the order is shipped (${after.body.status})`);
  check(after.body.shipping?.carrier === 'Delhivery' && after.body.shipping?.trackingNumber === 'DLV1234567890',
    `with the carrier and number typed (${after.body.shipping?.carrier} ${after.body.shipping?.trackingNumber})`);

  // The order's detail page renders everything the desk returns.
  await page.locator(`#queue tr[data-order="${orderId}"] td a`).first().click();
  await page.locator(`#order[data-order="${orderId}"]`).waitFor({ timeout: 15000 });
  const detail = await page.locator('#order').textContent();
  check(detail.includes(after.body.number) && detail.includes('DLV1234567890') && detail.includes('Status history'),
    'the order detail shows the number, the tracking number and the history');

  check(outside.length === 0, `no request left the origin ${origin}${outside.length ? `: ${outside.join(', ')}` : ''}`);
  check(broken.length === 0, `no script error or CSP violation${broken.length ? `: ${broken.join(' | ')}` : ''}`);
} catch (e) {
  failed++;
  console.log(`not ok - ${e.message}`);
} finally {
  await browser.close();
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
