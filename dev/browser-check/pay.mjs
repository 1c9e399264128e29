// A shopper's payment in a real browser: initiate over the API, open PhonePe's hosted page
// (the simulator), press Pay, land back on make dev's return page (/dev/return, the stack's
// PHONEPE_REDIRECT_URL), see it show the order paid, and see the order paid over the API.
// Needs a running stack: API_URL, CUSTOMER_TOKEN, ORDER_ID (an unpaid order of that customer).
import { chromium } from 'playwright-core';

const api = process.env.API_URL;
const token = process.env.CUSTOMER_TOKEN;
const orderId = process.env.ORDER_ID;
let passed = 0, failed = 0;
const check = (ok, what) => { if (ok) { passed++; console.log(`ok - ${what}`); } else { failed++; console.log(`not ok - ${what}`); } };

async function call(path, body) {
  const res = await fetch(`${api}${path}`, {
    method: body ? 'POST' : 'GET',
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
try {
  const started = await call('/payments/phonepe/initiate', { orderId });
  check(started.status === 200 && started.body.redirectUrl, `initiate answers a redirectUrl (${started.status})`);
  const page = await browser.newPage();
  await page.goto(started.body.redirectUrl);
  check((await page.content()).includes('₹'), 'the PhonePe page shows the amount in rupees');
  await page.screenshot({ path: process.env.SCREENSHOT || 'phonepe-page.png' });
  await Promise.all([
    page.waitForURL((url) => url.toString().includes(orderId), { timeout: 15000 }),
    page.getByRole('button', { name: /^Pay/ }).click(),
  ]);
  check(page.url().includes(orderId), `the browser is back on the storefront: ${page.url()}`);
  // The return page reloads itself every second until the payment is settled; the browser
  // has no token, so what it shows is the page's own reading of the order.
  let shown;
  for (let i = 0; i < 50; i++) {
    shown = await page.locator('#order').getAttribute('data-status', { timeout: 2000 }).catch(() => undefined);
    if (shown === 'paid') break;
    await new Promise((r) => setTimeout(r, 300));
  }
  const headline = await page.locator('#headline').textContent().catch(() => '');
  check(new URL(page.url()).pathname === '/dev/return' && shown === 'paid' && /Paid/.test(headline),
    `the return page shows the order paid (${shown}: ${headline})`);
  await page.screenshot({ path: (process.env.SCREENSHOT || 'phonepe-page.png').replace(/\.png$/, '-return.png') });
  let order;
  for (let i = 0; i < 50; i++) {
    order = await call(`/orders/${orderId}`);
    if (order.body.status === 'paid') break;
    await new Promise((r) => setTimeout(r, 200));
  }
  check(order.body.status === 'paid' && order.body.payment?.status === 'paid', `the order is paid (${order.body.status})`);
  check(typeof order.body.payment?.transactionId === 'string', 'the order carries the PhonePe transaction id');
} catch (e) {
  failed++;
  console.log(`not ok - ${e.message}`);
} finally {
  await browser.close();
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
