// The owner console in a real browser: open /admin#token=..., find a paid order in the queue,
// press Pack, try to ship it without a tracking number (the problem's detail and field error
// must show), ship it with Delhivery, and see the order shipped. Then, through the page only:
// mark it delivered, refund its line with restock and see the refund on the order, adjust the
// product's stock with a reason and see both ledger entries (the restock and the adjustment),
// open a product with two options and change one variant's price in its grid, adjust another
// variant's stock and see its ledger row, run a Shopify import dry run of a fixture (its
// counts and problem table) and import it, create a coupon and see it listed, and download
// the orders CSV. Throughout, the page may
// request nothing outside its own origin, break no CSP rule and keep the token out of the URL
// and of every storage that outlives the tab. The API is called directly only to confirm
// what the page did.
// On a phone (a 390×844 viewport) every screen — queue, order, orders, products, product,
// coupons, coupon form, export — must fit the screen's width, with its main buttons on screen
// and at least 44 px tall; one screenshot each (phone-*.png).
// Needs a running stack: API_URL, ADMIN_TOKEN, ORDER_ID (a paid order).
// SCREENSHOT: the shipped queue; SHOTS_DIR (default $CARGO_TARGET_DIR/browser-check): one
// screenshot a step.
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const api = process.env.API_URL;
const token = process.env.ADMIN_TOKEN;
const orderId = process.env.ORDER_ID;
const origin = new URL(api).origin;
const shots = process.env.SHOTS_DIR || join(process.env.CARGO_TARGET_DIR || 'target', 'browser-check');
mkdirSync(shots, { recursive: true });
const run = Date.now().toString(36).toUpperCase();
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

const PHONE = { width: 390, height: 844 };
let phoneShots = 0;
/** At phone width: nothing wider than the screen, and each of `buttons` (name → locator)
 * within the screen's width and tall enough for a finger. */
async function fitsPhone(page, screen, buttons = {}) {
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  check(width <= PHONE.width, `phone, ${screen}: the page is ${width} px wide, no wider than the screen`);
  for (const [name, locator] of Object.entries(buttons)) {
    const box = await locator.first().boundingBox();
    const seen = box ? `${Math.round(box.x)}–${Math.round(box.x + box.width)} px, ${Math.round(box.height)} px tall` : 'not shown';
    check(box && box.x >= 0 && box.x + box.width <= PHONE.width && box.height >= 43.5,
      `phone, ${screen}: ${name} is on screen and a finger tall (${seen})`);
  }
  phoneShots++;
  await page.screenshot({ path: join(shots, `phone-${String(phoneShots).padStart(2, '0')}-${screen.replace(/\W+/g, '-')}.png`), fullPage: true });
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
  const watch = (p) => {
    p.on('request', (r) => {
      const u = r.url();
      if (!u.startsWith('data:') && !u.startsWith('blob:') && new URL(u).origin !== origin) outside.push(u);
    });
    p.on('pageerror', (e) => broken.push(`page error: ${e.message}`));
    p.on('console', (m) => {
      if (m.type() === 'error' && !/Failed to load resource: the server responded with a status of 4\d\d/.test(m.text())) broken.push(`console: ${m.text()}`);
    });
    return p;
  };

  // The owner on a phone, while the order waits in the queue: every screen fits.
  const phone = watch(await browser.newPage({ viewport: PHONE, isMobile: true, hasTouch: true, deviceScaleFactor: 2 }));
  await phone.goto(`${api}/admin#token=${encodeURIComponent(token)}`);
  const phoneRow = phone.locator(`#queue tr[data-order="${orderId}"]`);
  await phoneRow.waitFor({ timeout: 15000 });
  await fitsPhone(phone, 'queue', {
    Pack: phoneRow.getByRole('button', { name: 'Pack' }),
    Ship: phoneRow.getByRole('button', { name: 'Ship' }),
    'the tracking number': phoneRow.locator('input[name="trackingNumber"]'),
    'the Export tab': phone.locator('#nav button[data-view="export"]'),
  });
  await phoneRow.locator('td a').first().click();
  await phone.locator(`#order[data-order="${orderId}"]`).waitFor({ timeout: 15000 });
  await fitsPhone(phone, 'order', {
    Pack: phone.locator('#order').getByRole('button', { name: 'Pack' }),
    Ship: phone.locator('#order').getByRole('button', { name: 'Ship' }),
    'Cancel order': phone.locator('#order').getByRole('button', { name: 'Cancel order' }),
  });
  await phone.locator('#nav button[data-view="orders"]').click();
  await phone.locator(`#main tr[data-order="${orderId}"]`).waitFor({ timeout: 15000 });
  await fitsPhone(phone, 'orders', { Search: phone.locator('#order-search').getByRole('button', { name: 'Search' }) });
  await phone.locator('#nav button[data-view="products"]').click();
  const phoneProduct = phone.locator('#products tr[data-product]').first();
  await phoneProduct.waitFor({ timeout: 15000 });
  await fitsPhone(phone, 'products', {
    'New product': phone.locator('#products').getByRole('button', { name: 'New product' }),
    'Edit / stock / ledger': phoneProduct.getByRole('button', { name: 'Edit / stock / ledger' }),
  });
  await phoneProduct.getByRole('button', { name: 'Edit / stock / ledger' }).click();
  await phone.locator('#product table.ledger').waitFor({ timeout: 15000 });
  await fitsPhone(phone, 'product', {
    'Adjust stock': phone.locator('#product').getByRole('button', { name: 'Adjust stock' }),
    Save: phone.locator('#product').getByRole('button', { name: 'Save' }),
  });
  await phone.locator('#nav button[data-view="coupons"]').click();
  await phone.locator('#coupons').getByRole('button', { name: 'New coupon' }).waitFor({ timeout: 15000 });
  await fitsPhone(phone, 'coupons', { 'New coupon': phone.locator('#coupons').getByRole('button', { name: 'New coupon' }) });
  await phone.locator('#coupons').getByRole('button', { name: 'New coupon' }).click();
  await fitsPhone(phone, 'coupon form', { Create: phone.locator('form.coupon-form').getByRole('button', { name: 'Create' }) });
  await phone.locator('#nav button[data-view="export"]').click();
  await fitsPhone(phone, 'export', { 'Download CSV': phone.locator('#export').getByRole('button', { name: 'Download CSV' }) });

  const page = watch(await browser.newPage());

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

  await page.screenshot({ path: join(shots, '01-shipped-detail.png'), fullPage: true });

  // Delivered, from the order's page.
  const card = (title) => page.locator('#order .card').filter({ has: page.locator('h3', { hasText: new RegExp(`^${title}$`) }) });
  await page.locator('#order').getByRole('button', { name: 'Delivered', exact: true }).click();
  await page.locator(`#order[data-order="${orderId}"][data-status="delivered"]`).waitFor({ timeout: 15000 });
  check((await page.locator('#flash .notice').textContent()).includes('delivered'), 'the page confirms the delivery');
  const delivered = await call('GET', `/admin/orders/${orderId}`);
  check(delivered.body.status === 'delivered', `the order is delivered (${delivered.body.status})`);
  await page.screenshot({ path: join(shots, '02-delivered.png'), fullPage: true });

  // A refund of the order's line, with its units returned to stock.
  const line = delivered.body.items[0];
  const reason = `browser check refund ${run}`;
  const refund = page.locator('#order form.refund-form');
  check(await refund.locator('input[name="mode"]:checked').count() === 0, 'the refund form chooses nothing for the owner (no "everything" by default)');
  const money = (p) => `₹${Math.floor(p / 100).toLocaleString('en-IN')}.${String(p % 100).padStart(2, '0')}`;
  const previewShows = (amount) => refund.locator('.refund-preview', { has: page.locator('strong', { hasText: money(amount) }) });
  await refund.locator('input[name="mode"][value="amount"]').check();
  await refund.locator('input[name="amount"]').fill('100.50');
  await previewShows(10050).waitFor({ timeout: 15000 });
  check(true, `an amount typed is previewed as the refund (${await refund.locator('.refund-preview').textContent()})`);
  await refund.locator('input[name="mode"][value="lines"]').check();
  await refund.locator(`input[data-product="${line.productId}"]`).fill(String(line.quantity));
  await refund.locator('input[name="restock"]').check();
  await refund.locator('input[name="reason"]').fill(reason);
  // The amount shown is the API's own preview of this refund, before anything is sent.
  const expectedRefund = await call('POST', `/admin/orders/${orderId}/refund/preview`,
    { lines: [{ productId: line.productId, quantity: line.quantity }] });
  check(expectedRefund.status === 200, `the API previews the refund (${expectedRefund.status} ${JSON.stringify(expectedRefund.body)})`);
  const shown = previewShows(expectedRefund.body.amount);
  await shown.waitFor({ timeout: 15000 });
  check(true, `the form shows the amount it will refund before sending (${await shown.textContent()})`);
  await refund.getByRole('button', { name: 'Review refund', exact: true }).click();
  const confirmRefund = refund.getByRole('button', { name: `Confirm refund of ${money(expectedRefund.body.amount)}`, exact: true });
  await confirmRefund.waitFor({ timeout: 15000 });
  const notYet = await call('GET', `/admin/orders/${orderId}`);
  check(!(notYet.body.refunds || []).some((x) => x.reason === reason), 'reviewing records nothing: the refund waits for the confirmation');
  await page.screenshot({ path: join(shots, '03a-refund-confirm.png'), fullPage: true });
  // Changing the form voids the confirmation: the owner confirms only what they were shown.
  await refund.locator('input[name="reason"]').fill(`${reason}.`);
  check(await confirmRefund.count() === 0, 'a change to the form takes the confirmation away');
  await refund.locator('input[name="reason"]').fill(reason);
  await refund.getByRole('button', { name: 'Review refund', exact: true }).click();
  await confirmRefund.click();
  await page.locator('#flash .notice', { hasText: 'Refund of' }).waitFor({ timeout: 15000 });
  await card('Refunds').locator('table', { hasText: reason }).waitFor({ timeout: 15000 });
  const refunded = await call('GET', `/admin/orders/${orderId}`);
  const r = (refunded.body.refunds || []).find((x) => x.reason === reason);
  check(r && r.restock === true && r.lines?.length === 1, `the API holds the refund of the line with restock (${r ? `${r.state}, ${r.amount} paise` : 'none'})`);
  // The jobs loop may settle it between the page's read and the API's: any state will do here.
  const refundRow = card('Refunds').locator('tbody tr', { hasText: reason }).first();
  const rowText = await refundRow.textContent();
  check(r && r.amount === expectedRefund.body.amount, `the refund recorded is the amount confirmed (${r ? money(r.amount) : '?'})`);
  const state = (await refundRow.locator('.badge').allTextContents()).find((t) => ['pending', 'completed', 'failed'].includes(t));
  check(r && rowText.includes(money(r.amount)) && state,
    `the order detail shows the refund, its amount and its state (${r ? money(r.amount) : '?'} ${state})`);
  await page.screenshot({ path: join(shots, '03-refunded.png'), fullPage: true });

  // The GST documents, as the customer got them: the invoice issued at shipping, and the
  // credit note issued once PhonePe has confirmed the refund (the stack's jobs loop).
  let withNote = refunded;
  for (let i = 0; i < 60 && !(withNote.body.creditNotes || []).length; i++) {
    await new Promise((ok) => setTimeout(ok, 500));
    withNote = await call('GET', `/admin/orders/${orderId}`);
  }
  const note = (withNote.body.creditNotes || [])[0];
  check(note, `the refund completed and issued a credit note (${note ? note.number : 'none after 30 s'})`);
  await page.locator('#nav button[data-view="orders"]').click();
  await page.locator(`#main tr[data-order="${orderId}"] td a`).first().click();
  await page.locator(`#order[data-order="${orderId}"]`).waitFor({ timeout: 15000 });
  const pdfs = [[`Invoice ${withNote.body.invoice.number} (PDF)`, '/invoice.pdf']];
  if (note) pdfs.push([`Credit note ${note.number} (PDF)`, `/credit-notes/${note.number.replaceAll('/', '-')}.pdf`]);
  for (const [name, tail] of pdfs) {
    const [pdfResponse, pdfDownload] = await Promise.all([
      page.waitForResponse((x) => new URL(x.url()).pathname === `/admin/orders/${orderId}${tail}`, { timeout: 15000 }),
      page.waitForEvent('download', { timeout: 15000 }),
      page.locator('#order').getByRole('button', { name, exact: true }).click(),
    ]);
    const pdfPath = join(shots, pdfDownload.suggestedFilename());
    await pdfDownload.saveAs(pdfPath);
    const head = readFileSync(pdfPath).subarray(0, 5).toString('latin1');
    check(pdfResponse.status() === 200 && pdfResponse.headers()['content-type'] === 'application/pdf' && head === '%PDF-',
      `${name} downloads a PDF (${pdfResponse.status()} ${pdfResponse.headers()['content-type']}, ${pdfDownload.suggestedFilename()} starts "${head}")`);
  }
  await page.screenshot({ path: join(shots, '03b-documents.png'), fullPage: true });

  // The product's stock: the restock is in the ledger, then an adjustment with a reason.
  await page.locator('#nav button[data-view="products"]').click();
  const productRow = page.locator(`#products tr[data-product="${line.productId}"]`);
  await productRow.waitFor({ timeout: 15000 });
  await productRow.locator('td a').first().click();
  const product = page.locator(`#product[data-product="${line.productId}"]`);
  await product.waitFor({ timeout: 15000 });
  const ledgerRows = product.locator('table.ledger tbody tr');
  const restocked = ledgerRows.filter({ hasText: reason });
  await restocked.first().waitFor({ timeout: 15000 });
  const restockText = await restocked.first().textContent();
  check(restockText.includes(`+${line.quantity}`) && restockText.includes(orderId), `the ledger shows the refund's restock (${restockText})`);
  const stockBefore = Number(/(\d+) in stock/.exec(await product.locator('p.summary').textContent())[1]);
  const stockReason = `browser check recount ${run}`;
  const stockForm = product.locator('form.stock-form');
  await stockForm.locator('input[name="delta"]').fill('3');
  await stockForm.locator('input[name="reason"]').fill(stockReason);
  await stockForm.getByRole('button', { name: 'Adjust stock' }).click();
  await page.locator('#flash .notice', { hasText: `stock is now ${stockBefore + 3}` }).waitFor({ timeout: 15000 });
  check(true, `the page confirms the new stock (${stockBefore} → ${stockBefore + 3})`);
  const adjusted = page.locator(`#product[data-product="${line.productId}"] table.ledger tbody tr`).filter({ hasText: stockReason });
  await adjusted.first().waitFor({ timeout: 15000 });
  const adjustedText = await adjusted.first().textContent();
  check(adjustedText.includes('+3') && adjustedText.includes(String(stockBefore + 3)), `the ledger shows the adjustment (${adjustedText})`);
  check((await page.locator('#product p.summary').textContent()).includes(`${stockBefore + 3} in stock`), 'the product shows the new stock');
  await page.screenshot({ path: join(shots, '04-stock-adjusted.png'), fullPage: true });

  // A new coupon, listed.
  const code = `BC${run}`;
  await page.locator('#nav button[data-view="coupons"]').click();
  await page.locator('#coupons').getByRole('button', { name: 'New coupon' }).click();
  const couponForm = page.locator('form.coupon-form');
  await couponForm.locator('input[name="code"]').fill(code.toLowerCase());
  await couponForm.locator('select[name="type"]').selectOption('percent');
  await couponForm.locator('input[name="value"]').fill('10');
  await couponForm.locator('input[name="minOrderValue"]').fill('500');
  await couponForm.getByRole('button', { name: 'Create' }).click();
  const couponRow = page.locator(`#coupons tr[data-coupon="${code}"]`);
  await couponRow.waitFor({ timeout: 15000 });
  check((await page.locator('#flash .notice').textContent()).includes(`Coupon ${code} saved`), 'the page confirms the coupon');
  const couponText = await couponRow.textContent();
  check(couponText.includes('10%') && couponText.includes('₹500.00') && couponText.includes('active'),
    `the coupon is listed with its discount, minimum and state (${couponText})`);
  // A coupon past its expiry, and one used as often as its limit allows, are not "active".
  const expiredCode = `BX${run}`;
  await page.locator('#coupons').getByRole('button', { name: 'New coupon' }).click();
  await couponForm.locator('input[name="code"]').fill(expiredCode);
  await couponForm.locator('input[name="value"]').fill('15');
  await couponForm.locator('input[name="expiresAt"]').fill('2025-01-31T23:59');
  await couponForm.getByRole('button', { name: 'Create' }).click();
  const expiredRow = page.locator(`#coupons tr[data-coupon="${expiredCode}"]`);
  await expiredRow.waitFor({ timeout: 15000 });
  const expiredBadges = await expiredRow.locator('.badge').allTextContents();
  check(expiredBadges.includes('expired') && !expiredBadges.includes('active'), `an expired coupon says so (${expiredBadges.join(', ')})`);
  const usedCode = `BU${run}`;
  const made = await call('POST', '/admin/coupons', { code: usedCode, type: 'flat', value: 100, usageLimit: 1 });
  check(made.status === 201, `a coupon for one use (${made.status})`);
  const shopper = async (method, path, body) => {
    const res = await fetch(`${api}${path}`, { method, headers: { authorization: `Bearer ${process.env.CUSTOMER_TOKEN}`, 'content-type': 'application/json' }, body: body ? JSON.stringify(body) : undefined });
    return { status: res.status, body: await res.json() };
  };
  const urli = await shopper('GET', '/products/kuber-brass-urli');
  await shopper('POST', '/cart/add', { productId: urli.body.id, quantity: 1 });
  const usedOrder = await shopper('POST', '/orders/create', { couponCode: usedCode, shippingAddress: {
    name: 'Asha Iyer', phone: '9876543210', line1: '12 Temple Street', city: 'Chennai', state: 'Tamil Nadu', pincode: '600004' } });
  check(usedOrder.status === 201 && usedOrder.body.couponCode === usedCode, `a shopper used it (${usedOrder.status})`);
  await page.locator('#nav button[data-view="coupons"]').click();
  const usedRow = page.locator(`#coupons tr[data-coupon="${usedCode}"]`);
  await usedRow.waitFor({ timeout: 15000 });
  const usedBadges = await usedRow.locator('.badge').allTextContents();
  check(usedBadges.includes('used up') && !usedBadges.includes('active'), `a used-up coupon says so (${usedBadges.join(', ')}; ${await usedRow.locator('td').nth(5).textContent()} used)`);
  const freshBadges = await page.locator(`#coupons tr[data-coupon="${code}"] .badge`).allTextContents();
  check(freshBadges.join() === 'active', `the new coupon is active (${freshBadges.join(', ')})`);
  await page.screenshot({ path: join(shots, '05-coupon.png'), fullPage: true });

  // The CSV export: the request answers 200 text/csv and the browser downloads the file.
  await page.locator('#nav button[data-view="export"]').click();
  const exportForm = page.locator('#export form');
  await exportForm.waitFor({ timeout: 15000 });
  const [csvResponse, download] = await Promise.all([
    page.waitForResponse((x) => new URL(x.url()).pathname === '/admin/orders/export.csv', { timeout: 15000 }),
    page.waitForEvent('download', { timeout: 15000 }),
    exportForm.getByRole('button', { name: 'Download CSV' }).click(),
  ]);
  check(csvResponse.status() === 200 && /^text\/csv/.test(csvResponse.headers()['content-type'] || ''),
    `the export answers ${csvResponse.status()} ${csvResponse.headers()['content-type']}`);
  const csvPath = join(shots, 'orders.csv');
  await download.saveAs(csvPath);
  const csv = readFileSync(csvPath, 'utf8');
  check(download.suggestedFilename().endsWith('.csv') && csv.includes(after.body.number),
    `the browser downloaded ${download.suggestedFilename()} (${csv.length} bytes) with the order's row`);
  await page.locator('#flash .notice', { hasText: 'The CSV is downloading' }).waitFor({ timeout: 15000 });
  await page.screenshot({ path: join(shots, '06-export.png'), fullPage: true });

  // A new product with two options, through the form: one row per combination of values.
  const lampSlug = `kamakshi-brass-lamp-${run.toLowerCase()}`;
  await page.locator('#nav button[data-view="products"]').click();
  await page.locator('#products').getByRole('button', { name: 'New product' }).click();
  const newForm = page.locator('form.product-form');
  await newForm.locator('input[name="name"]').fill('Kamakshi Brass Lamp');
  await newForm.locator('input[name="slug"]').fill(lampSlug);
  await newForm.locator('input[name="hsn"]').fill('9405');
  await newForm.locator('select[name="gstRate"]').selectOption('1200');
  await newForm.locator('textarea[name="options"]').fill('Size: 6 in, 8 in\nFinish: Polished, Antique');
  const combos = newForm.locator('.new-variants table tbody tr');
  check(await combos.count() === 4, `typing two options of two values lays out their 4 combinations (${await combos.count()})`);
  for (let i = 0; i < 4; i++) {
    await newForm.locator(`input[name="variants[${i}].sku"]`).fill(`KAM-${run}-${i}`);
    await newForm.locator(`input[name="variants[${i}].price"]`).fill(String(1299 + 200 * i));
    await newForm.locator(`input[name="variants[${i}].stock"]`).fill('5');
    await newForm.locator(`input[name="variants[${i}].weightGrams"]`).fill('700');
    await newForm.locator(`input[name="variants[${i}].dimensionsCm"]`).fill('12 x 12 x 20');
  }
  // 8 in is not made in Antique: that combination is left out.
  await newForm.locator('input[name="variants[3].make"]').uncheck();
  await page.screenshot({ path: join(shots, '07a-new-product-with-options.png'), fullPage: true });
  await newForm.getByRole('button', { name: 'Create' }).click();
  const lampGrid = page.locator('#product #variants table.variants tbody tr');
  await lampGrid.first().waitFor({ timeout: 15000 });
  const lampTitles = await lampGrid.locator('td:nth-child(3)').allTextContents();
  check(lampTitles.join() === '6 in / Polished,6 in / Antique,8 in / Polished', `the new product has the 3 variants ticked (${lampTitles.join(', ')})`);
  // A new size for it, then the variant that uses it.
  await page.locator('#variants form.option-values input[name="add:Size"]').fill('10 in');
  await page.locator('#variants form.option-values').getByRole('button', { name: 'Add values' }).click();
  await page.locator('#flash .notice', { hasText: 'one value added' }).waitFor({ timeout: 15000 });
  const addVariant = page.locator('#variants form.add-variant');
  await addVariant.locator('select[name="option:Size"]').selectOption('10 in');
  await addVariant.locator('select[name="option:Finish"]').selectOption('Antique');
  await addVariant.locator('input[name="sku"]').fill(`KAM-${run}-10A`);
  await addVariant.locator('input[name="price"]').fill('2499');
  await addVariant.locator('input[name="stock"]').fill('2');
  await addVariant.getByRole('button', { name: 'Add variant' }).click();
  await page.locator('#flash .notice', { hasText: 'variant 10 in / Antique added' }).waitFor({ timeout: 15000 });
  check(await lampGrid.count() === 4 && (await page.locator('#product p.summary').textContent()).includes('4 variants'),
    'adding a value and a variant gives the product its fourth variant');

  // A seeded product with two options: its variant grid, one variant's price changed, another's
  // stock adjusted and seen in the ledger filtered to it.
  let listed = await call('GET', '/admin/products?limit=100');
  const two = listed.body.items.find((p) => p.options?.length === 2 && p.slug !== lampSlug)
    || listed.body.items.find((p) => p.slug === lampSlug);
  check(two && two.variants.length > 1, `a product with two options to look at (${two?.slug})`);
  await page.locator('#nav button[data-view="products"]').click();
  await page.locator(`#products tr[data-product="${two.id}"]`).waitFor({ timeout: 15000 });
  await page.screenshot({ path: join(shots, '07b-products.png'), fullPage: true });
  await page.locator('#products input[name="q"]').fill(two.slug);
  await page.locator('#products').getByRole('button', { name: 'Search' }).click();
  const twoRow = page.locator(`#products tr[data-product="${two.id}"]`);
  await twoRow.waitFor({ timeout: 15000 });
  const twoText = await twoRow.textContent();
  const range = two.priceRange.min === two.priceRange.max ? money(two.priceRange.min) : `${money(two.priceRange.min)} – ${money(two.priceRange.max)}`;
  check(twoText.includes(range) && twoText.includes(`${two.variants.length} variants`), `the list shows the price range and the variant count (${twoText})`);
  await twoRow.locator('td a').first().click();
  const grid = page.locator(`#product[data-product="${two.id}"] #variants table.variants`);
  await grid.waitFor({ timeout: 15000 });
  check(await grid.locator('tbody tr').count() === two.variants.length, `the grid has one row per variant (${two.variants.length})`);
  const heads = await grid.locator('thead th').allTextContents();
  check(two.options.every((o) => heads.includes(o.name)) && heads.includes('SKU') && heads.includes('Stock'), `the grid has a column per option (${heads.join(' | ')})`);
  const [first, second] = two.variants;
  const secondRow = grid.locator(`tr[data-variant="${second.id}"]`);
  check((await secondRow.textContent()).includes(second.options[two.options[0].name]), 'a row shows its option values');
  const newPrice = second.price + 10000;
  await secondRow.locator('input[name="price"]').fill(String(newPrice / 100));
  await secondRow.getByRole('button', { name: 'Save' }).click();
  await page.locator('#flash .notice', { hasText: `${second.title} saved` }).waitFor({ timeout: 15000 });
  listed = await call('GET', `/admin/products?q=${encodeURIComponent(two.slug)}`);
  const twoAfter = listed.body.items.find((p) => p.id === two.id);
  const secondAfter = twoAfter.variants.find((v) => v.id === second.id);
  check(secondAfter.price === newPrice && secondAfter.stock === second.stock, `the variant's price changed to ${money(secondAfter.price)}, its stock did not`);
  check(await page.locator(`#variants tr[data-variant="${second.id}"] input[name="price"]`).inputValue() === `${newPrice / 100}.00`, 'the grid shows the new price');
  await page.locator(`#variants tr[data-variant="${first.id}"] button.link`).click();
  const variantStock = page.locator('#stock form.stock-form');
  check(await variantStock.locator('select[name="variantId"]').inputValue() === first.id, 'the stock button of a row chooses its variant in the stock form');
  const variantReason = `browser check variant ${run}`;
  await variantStock.locator('input[name="delta"]').fill('4');
  await variantStock.locator('input[name="reason"]').fill(variantReason);
  await variantStock.getByRole('button', { name: 'Adjust stock' }).click();
  await page.locator('#flash .notice', { hasText: `stock is now ${first.stock + 4}` }).waitFor({ timeout: 15000 });
  check(true, `the page confirms the variant's new stock (${first.stock} → ${first.stock + 4})`);
  check(await page.locator('#ledger select[name="ledgerVariant"]').inputValue() === first.id, 'the ledger stays filtered to the variant');
  const variantMove = page.locator('#ledger table.ledger tbody tr').filter({ hasText: variantReason });
  await variantMove.first().waitFor({ timeout: 15000 });
  const moveText = await variantMove.first().textContent();
  check(moveText.includes('+4') && moveText.includes(first.sku) && moveText.includes(first.title), `the ledger row names the variant and its SKU (${moveText})`);
  const otherRows = await page.locator('#ledger table.ledger tbody tr').evaluateAll((rows, id) => rows.filter((r) => r.dataset.variant !== id).length, first.id);
  check(otherRows === 0, `the filtered ledger shows that variant only (${otherRows} others)`);
  check((await page.locator(`#variants tr[data-variant="${first.id}"] button.link`).textContent()) === String(first.stock + 4), 'the grid shows the new stock');
  await page.screenshot({ path: join(shots, '07-variants.png'), fullPage: true });

  // Moving in from Shopify: the dry run's counts and every problem by row, then the import.
  const fixture = join(process.env.ROOT || '.', 'dev/server/tests/fixtures/shopify/legacy-export.csv');
  const csvText = readFileSync(fixture);
  const dry = await fetch(`${api}/admin/imports/shopify-products?dryRun=true&defaultHsn=7418&defaultGstRate=1200`, {
    method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'text/csv' }, body: csvText });
  const dryBody = await dry.json();
  check(dry.status === 200, `the API's own dry run of the fixture (${dry.status} ${dryBody.detail || ''})`);
  await page.locator('#nav button[data-view="import"]').click();
  const importForm = page.locator('#import form.import-form');
  await importForm.locator('input[name="file"]').setInputFiles(fixture);
  await importForm.locator('input[name="defaultHsn"]').fill('7418');
  await importForm.locator('select[name="defaultGstRate"]').selectOption('1200');
  await importForm.getByRole('button', { name: 'Dry run' }).click();
  const dryShown = page.locator('#import .import-result[data-dry-run="true"]');
  await dryShown.waitFor({ timeout: 15000 });
  const countCells = await dryShown.locator('table.import-counts tr[data-kind="products"] td.num').allTextContents();
  const apiCounts = [dryBody.products.created, dryBody.products.updated, dryBody.products.unchanged, dryBody.products.skipped].map(String);
  check(countCells.join() === apiCounts.join(), `the dry run's product counts are the API's (created, updated, unchanged, skipped: ${countCells.join(', ')})`);
  const problemRows = dryShown.locator('table.import-problems tbody tr');
  check(await problemRows.count() === dryBody.problems.length, `every problem has its row in the table (${dryBody.problems.length})`);
  if (dryBody.problems.length) {
    const p0 = dryBody.problems[0];
    const row0 = await problemRows.first().textContent();
    check(row0.includes(String(p0.row)) && row0.includes(p0.message), `a problem shows its row and message (${row0})`);
  }
  await page.screenshot({ path: join(shots, '08-import-dry-run.png'), fullPage: true });
  await page.locator('#import').getByRole('button', { name: /^Import / }).click();
  const imported = page.locator('#import .import-result[data-dry-run="false"]');
  await imported.waitFor({ timeout: 30000 });
  check(true, `the import ran (${(await imported.locator('table.import-counts').textContent()).replace(/\s+/g, ' ')})`);
  const again = await fetch(`${api}/admin/imports/shopify-products?dryRun=true&defaultHsn=7418&defaultGstRate=1200`, {
    method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'text/csv' }, body: csvText });
  const againBody = await again.json();
  check(againBody.products?.created === 0 && againBody.variants?.created === 0, `after the import, a dry run of the same file creates nothing (${JSON.stringify(againBody.products)})`);
  await page.screenshot({ path: join(shots, '09-imported.png'), fullPage: true });
  await phone.locator('#nav button[data-view="import"]').click();
  await phone.locator('#import input[name="file"]').setInputFiles(fixture);
  await phone.locator('#import').getByRole('button', { name: 'Dry run' }).click();
  await phone.locator('#import .import-result').waitFor({ timeout: 15000 });
  await fitsPhone(phone, 'import dry run', { 'Dry run': phone.locator('#import').getByRole('button', { name: 'Dry run' }) });
  await phone.locator('#nav button[data-view="products"]').click();
  await phone.locator('#products input[name="q"]').fill(two.slug);
  await phone.locator('#products').getByRole('button', { name: 'Search' }).click();
  await phone.locator(`#products tr[data-product="${two.id}"] td a`).first().click();
  await phone.locator('#variants table.variants').waitFor({ timeout: 15000 });
  await fitsPhone(phone, 'variants', {
    'a variant\'s Save': phone.locator(`#variants tr[data-variant="${first.id}"]`).getByRole('button', { name: 'Save' }),
    'Add variant': phone.locator('#variants').getByRole('button', { name: 'Add variant' }),
  });

  // The same order on the phone once it is delivered and refunded: its documents, and the
  // refund form with its confirmation, fit the screen too.
  await phone.locator('#nav button[data-view="orders"]').click();
  await phone.locator(`#main tr[data-order="${orderId}"] td a`).first().click();
  await phone.locator(`#order[data-order="${orderId}"][data-status="delivered"]`).waitFor({ timeout: 15000 });
  const phoneRefund = phone.locator('#order form.refund-form');
  await phoneRefund.locator('input[name="mode"][value="amount"]').check();
  await phoneRefund.locator('input[name="amount"]').fill('1');
  await phoneRefund.locator('input[name="reason"]').fill('phone check');
  await phoneRefund.getByRole('button', { name: 'Review refund' }).click();
  await phoneRefund.locator('.refund-confirm button, .problem').first().waitFor({ timeout: 15000 });
  const phoneButtons = {
    'the invoice PDF': phone.locator('#order button.pdf', { hasText: 'Invoice' }),
    'Review refund': phoneRefund.getByRole('button', { name: 'Review refund' }),
  };
  if (await phone.locator('#order button.pdf', { hasText: 'Credit note' }).count()) phoneButtons['the credit note PDF'] = phone.locator('#order button.pdf', { hasText: 'Credit note' });
  if (await phoneRefund.locator('.refund-confirm button').count()) phoneButtons['the refund confirmation'] = phoneRefund.locator('.refund-confirm button');
  await fitsPhone(phone, 'delivered order', phoneButtons);

  check(outside.length === 0, `no request left the origin ${origin}${outside.length ? `: ${outside.join(', ')}` : ''}`);
  check(broken.length === 0, `no script error or CSP violation${broken.length ? `: ${broken.join(' | ')}` : ''}`);
} catch (e) {
  failed++;
  console.log(`not ok - ${e.message}`);
  // What the page showed when it stopped, to see why.
  for (const [i, p] of browser.contexts().flatMap((c) => c.pages()).entries()) {
    await p.screenshot({ path: join(shots, `failed-${i}.png`), fullPage: true }).catch(() => {});
  }
} finally {
  await browser.close();
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
