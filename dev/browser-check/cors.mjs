// CORS in a real browser: a storefront page served from another origin (a node server on
// 127.0.0.1:$CORS_PAGE_PORT, which run.sh puts in the stack's CORS_ALLOWED_ORIGINS) calls the
// API with fetch() and must (1) read a simple GET /products and its x-request-id; (2) get
// through the preflights of GET /cart and POST /cart/add sent with Authorization, traceparent,
// Idempotency-Key, x-request-id and content-type: application/json, and read x-request-id;
// (3) read www-authenticate on GET /cart's 401 without a token. (4) The same page served from
// an origin not in the list (a second node server) must be blocked by the browser, preflighted
// or not. Needs a running stack: API_URL, CUSTOMER_TOKEN, CORS_PAGE_PORT, CORS_ALLOWED_ORIGINS.
import { createServer } from 'node:http';
import { chromium } from 'playwright-core';

const api = process.env.API_URL;
const token = process.env.CUSTOMER_TOKEN;
const allowedPort = Number(process.env.CORS_PAGE_PORT);
const configured = (process.env.CORS_ALLOWED_ORIGINS || '*').trim();
let passed = 0, failed = 0;
const check = (ok, what) => { if (ok) { passed++; console.log(`ok - ${what}`); } else { failed++; console.log(`not ok - ${what}`); } };

// A storefront page that is only an origin: the checks run their fetch() calls in it.
const serve = (port) => new Promise((resolve, reject) => {
  const server = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><title>storefront</title><p>CORS check</p>');
  });
  server.once('error', reject);
  server.listen(port, '127.0.0.1', () => resolve(server));
});

// Runs in the page: every call reports its status, the headers JS can read, or the error.
async function inPage({ api, token, productId, run }) {
  const call = async (method, path, headers, body) => {
    try {
      const res = await fetch(`${api}${path}`, { method, headers, body: body ? JSON.stringify(body) : undefined });
      let json = null;
      try { json = await res.json(); } catch { /* not JSON */ }
      return {
        status: res.status,
        requestId: res.headers.get('x-request-id'),
        wwwAuthenticate: res.headers.get('www-authenticate'),
        body: json,
      };
    } catch (e) {
      return { error: `${e.name}: ${e.message}` };
    }
  };
  const traceparent = `00-${'0'.repeat(16)}${run.padStart(16, '0').slice(-16)}-00f067aa0ba902b7-01`;
  const auth = { authorization: `Bearer ${token}`, traceparent };
  return {
    products: await call('GET', '/products'),
    cart: await call('GET', '/cart', auth),
    add: productId && await call('POST', '/cart/add', {
      ...auth,
      'content-type': 'application/json',
      'idempotency-key': `cors-check-${run}`,
      'x-request-id': `cors-check-${run}`,
    }, { productId, quantity: 1 }),
    anonymous: await call('GET', '/cart'),
  };
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
         '--disable-component-update', '--disable-sync'],
});
const servers = [];
try {
  check(Number.isInteger(allowedPort) && allowedPort > 0, `CORS_PAGE_PORT is a port (${process.env.CORS_PAGE_PORT})`);
  servers.push(await serve(allowedPort));
  servers.push(await serve(0));
  const allowed = `http://127.0.0.1:${allowedPort}`;
  const other = `http://127.0.0.1:${servers[1].address().port}`;
  const apiOrigin = new URL(api).origin;
  check(allowed !== apiOrigin && other !== apiOrigin, `the pages (${allowed}, ${other}) are not on the API's origin (${apiOrigin})`);
  const list = configured === '*' ? null : configured.split(',').map((o) => o.trim().replace(/\/$/, ''));
  check(!list || list.includes(allowed), `CORS_ALLOWED_ORIGINS (${configured}) allows ${allowed}`);

  const listing = await (await fetch(`${api}/products`)).json();
  // One sold as a single variant, which POST /cart/add takes by productId: the console's
  // check, run before on the same stack, adds products with several.
  const productId = (listing.items || listing.products || listing).find((p) => (p.variants?.length ?? 1) === 1)?.id;
  check(typeof productId === 'string', `a seeded product to add to the cart (${productId})`);

  // Opens the page on an origin and runs the calls there, recording the preflights the
  // browser sends (DevTools reports them as their own requests) and its console.
  const visit = async (origin) => {
    const page = await browser.newPage();
    const preflights = [];
    const consoleErrors = [];
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Network.enable');
    cdp.on('Network.requestWillBeSent', (e) => {
      if (e.request.method === 'OPTIONS' || e.type === 'Preflight') preflights.push(new URL(e.request.url).pathname);
    });
    page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
    await page.goto(`${origin}/`);
    const run = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
    const got = await page.evaluate(inPage, { api, token, productId, run });
    await page.close();
    return { got, preflights, consoleErrors, run };
  };

  // (1)-(3): the allowed origin.
  const ok = await visit(allowed);
  const { products, cart, add, anonymous } = ok.got;
  check(products.status === 200 && Array.isArray(products.body?.items || products.body?.products || products.body),
    `(1) ${allowed}: GET /products answers 200 and the page reads its body (${products.status ?? products.error})`);
  check(typeof products.requestId === 'string' && products.requestId.length > 0,
    `(1) the page reads x-request-id on the simple request (${products.requestId})`);
  // Not readable by the page (Vary is not exposed): the API echoes the origin, not `*`.
  const echoed = await fetch(`${api}/products`, { headers: { origin: allowed } });
  check(echoed.headers.get('access-control-allow-origin') === allowed && /origin/i.test(echoed.headers.get('vary') || ''),
    `(1) the API answers ${allowed} with its own origin and Vary: Origin (${echoed.headers.get('access-control-allow-origin')}; ${echoed.headers.get('vary')})`);
  check(!ok.preflights.includes('/products'), `(1) GET /products went without a preflight (preflights: ${ok.preflights.join(' ') || 'none'})`);

  check(cart.status === 200, `(2) GET /cart with Authorization and traceparent answers 200 (${cart.status ?? cart.error})`);
  check(typeof cart.requestId === 'string' && cart.requestId.length > 0, `(2) the page reads x-request-id on GET /cart (${cart.requestId})`);
  check(add?.status === 200 || add?.status === 201,
    `(2) POST /cart/add with Authorization, traceparent, Idempotency-Key and JSON answers ${add?.status ?? add?.error}`);
  check(add?.requestId === `cors-check-${ok.run}`, `(2) the page reads the x-request-id it sent echoed on POST /cart/add (${add?.requestId})`);
  check(JSON.stringify(add?.body || {}).includes(productId), '(2) the cart the page reads back holds the product');
  check(ok.preflights.includes('/cart') && ok.preflights.filter((p) => p === '/cart/add').length >= 1,
    `(2) the browser preflighted both (preflights: ${ok.preflights.join(' ') || 'none'})`);

  check(anonymous.status === 401, `(3) GET /cart without a token answers 401 (${anonymous.status ?? anonymous.error})`);
  check(anonymous.wwwAuthenticate === 'Bearer', `(3) the page reads www-authenticate on the 401 (${anonymous.wwwAuthenticate})`);
  check(typeof anonymous.requestId === 'string', `(3) and x-request-id (${anonymous.requestId})`);
  const corsErrors = ok.consoleErrors.filter((t) => /CORS/i.test(t));
  check(corsErrors.length === 0, `no CORS error in the allowed page's console${corsErrors.length ? `: ${corsErrors.join(' | ')}` : ''}`);

  // (4): an origin not in the list.
  if (!list) {
    console.log(`ok - (4) skipped: CORS_ALLOWED_ORIGINS is * so no origin is refused # SKIP`);
  } else {
    check(!list.includes(other), `(4) ${other} is not in CORS_ALLOWED_ORIGINS`);
    const no = await visit(other);
    for (const [name, r] of Object.entries(no.got)) {
      check(r && r.error && /TypeError/.test(r.error), `(4) ${other}: the browser blocks ${name} (${r?.error ?? r?.status})`);
    }
    check(no.consoleErrors.some((t) => /blocked by CORS policy/.test(t)),
      `(4) the console says why: ${(no.consoleErrors.find((t) => /CORS/.test(t)) || 'no CORS message').slice(0, 160)}`);
    // The refused POST never reached the API: its preflight failed, so the cart is unchanged.
    const cartNow = await (await fetch(`${api}/cart`, { headers: { authorization: `Bearer ${token}` } })).json();
    check(cartNow.itemCount === add?.body?.itemCount, `(4) the blocked POST /cart/add added nothing (${cartNow.itemCount} items, as before)`);
    // The server's side of it: no allow-origin for that origin, on the preflight or the call.
    const pre = await fetch(`${api}/cart`, { method: 'OPTIONS', headers: { origin: other, 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' } });
    const simple = await fetch(`${api}/products`, { headers: { origin: other } });
    check(!pre.headers.has('access-control-allow-origin') && !simple.headers.has('access-control-allow-origin'),
      `(4) the API sends no Access-Control-Allow-Origin to ${other} (preflight ${pre.status}, GET ${simple.status})`);
  }
} catch (e) {
  failed++;
  console.log(`not ok - ${e.message}`);
} finally {
  await browser.close();
  for (const s of servers) s.close();
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
