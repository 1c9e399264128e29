// Proves the official PhonePe Node SDK (pg-sdk-node 2.0.2) works against the simulator with
// nothing changed but its hard-coded base URLs. Run through ./run.sh, which starts the simulator.
//
// Env: SIM_URL (required), SIM_CLIENT_ID, SIM_CLIENT_SECRET, SIM_WEBHOOK_USERNAME,
// SIM_WEBHOOK_PASSWORD (defaults match phonepe_sim::SimConfig::default()).

import { createRequire } from 'node:module';
import http from 'node:http';

const require = createRequire(import.meta.url);

const SIM_URL = (process.env.SIM_URL || '').replace(/\/+$/, '');
if (!SIM_URL) {
  console.error('SIM_URL is not set (e.g. http://127.0.0.1:4010)');
  process.exit(2);
}
const CLIENT_ID = process.env.SIM_CLIENT_ID || 'PITALYASIM_CLIENT';
const CLIENT_SECRET = process.env.SIM_CLIENT_SECRET || 'pitalya-sim-secret';
const WEBHOOK_USERNAME = process.env.SIM_WEBHOOK_USERNAME || 'pitalyasim';
const WEBHOOK_PASSWORD = process.env.SIM_WEBHOOK_PASSWORD || 'pitalyasim123';

// The hosts are constants the SDK reads when the client is built, so patch them before getInstance.
const { BaseUrl } = require('pg-sdk-node/dist/common/constants/BaseUrl');
BaseUrl.SANDBOX.PG_HOST_URL = SIM_URL;
BaseUrl.SANDBOX.OAUTH_HOST_URL = SIM_URL;
BaseUrl.SANDBOX.EVENTS_HOST_URL = SIM_URL;

const {
  StandardCheckoutClient,
  StandardCheckoutPayRequest,
  RefundRequest,
  MetaInfo,
  Env,
  BadRequest,
  PhonePeException,
} = require('pg-sdk-node');

let passed = 0;
let failed = 0;

async function check(name, fn) {
  try {
    await fn();
    passed += 1;
    console.log(`ok   - ${name}`);
  } catch (err) {
    failed += 1;
    console.log(`FAIL - ${name}: ${err && err.stack ? err.stack : JSON.stringify(err)}`);
  }
}

function expect(cond, message, value) {
  if (!cond) {
    throw new Error(`${message}${value === undefined ? '' : `: ${JSON.stringify(value)}`}`);
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function simPost(path, body) {
  const res = await fetch(`${SIM_URL}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await res.json();
  expect(res.ok, `POST ${path} answered ${res.status}`, json);
  return json;
}

async function waitForSimulator() {
  for (let i = 0; i < 100; i += 1) {
    try {
      const res = await fetch(`${SIM_URL}/simulator/config`);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  throw new Error(`simulator at ${SIM_URL} did not come up`);
}

/** A merchant webhook endpoint: resolves each received callback as {authorization, body}. */
function startReceiver() {
  const received = [];
  const waiters = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      received.push({ authorization: req.headers.authorization, body });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      while (waiters.length) waiters.shift()();
    });
  });
  const next = async (predicate, timeoutMs = 5000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = received.find(predicate);
      if (hit) return hit;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no matching webhook; got ${received.length}`);
      await Promise.race([new Promise((r) => waiters.push(r)), sleep(left)]);
    }
  };
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      resolve({ url: `http://127.0.0.1:${server.address().port}/webhook`, next, server });
    });
  });
}

await waitForSimulator();
const receiver = await startReceiver();
await simPost('/simulator/config', { webhookUrl: receiver.url });

const client = StandardCheckoutClient.getInstance(CLIENT_ID, CLIENT_SECRET, 1, Env.SANDBOX);
const merchantOrderId = `SDKCHECK-${Date.now()}`;
const amount = 12345;
let transactionId;
let refundId;
const merchantRefundId = `${merchantOrderId}-R1`;

await check('pay creates a PENDING order with a hosted-page redirectUrl', async () => {
  const request = StandardCheckoutPayRequest.builder()
    .merchantOrderId(merchantOrderId)
    .amount(amount)
    .redirectUrl('https://shop.example/orders/sdk-check')
    .message('SDK check')
    .metaInfo(MetaInfo.builder().udf1('sdk-check').build())
    .expireAfter(900)
    .build();
  const res = await client.pay(request);
  expect(typeof res.orderId === 'string' && res.orderId.startsWith('OMO'), 'orderId', res);
  expect(res.state === 'PENDING', 'state', res);
  expect(Number.isInteger(res.expireAt) && res.expireAt > Date.now(), 'expireAt (ms)', res);
  expect(res.redirectUrl.startsWith(`${SIM_URL}/pay/`), 'redirectUrl', res);
});

await check('getOrderStatus (details=true, sent twice on the wire) is PENDING', async () => {
  const res = await client.getOrderStatus(merchantOrderId, true);
  expect(res.state === 'PENDING', 'state', res);
  expect(res.amount === amount, 'amount', res);
  expect(res.merchantOrderId === merchantOrderId, 'merchantOrderId', res);
  expect(Array.isArray(res.paymentDetails) && res.paymentDetails.length === 0, 'paymentDetails', res);
  expect(res.metaInfo && res.metaInfo.udf1 === 'sdk-check', 'metaInfo', res);
});

await check('script hook completes the order', async () => {
  const res = await simPost(`/simulator/orders/${merchantOrderId}/complete`);
  expect(res.state === 'COMPLETED', 'state', res);
});

await check('getOrderStatus is COMPLETED with a UPI attempt', async () => {
  const res = await client.getOrderStatus(merchantOrderId, true);
  expect(res.state === 'COMPLETED', 'state', res);
  const [attempt] = res.paymentDetails;
  expect(attempt && attempt.state === 'COMPLETED' && attempt.amount === amount, 'attempt', res);
  expect(attempt.transactionId.startsWith('OM'), 'transactionId', attempt);
  expect(attempt.rail && attempt.rail.type === 'UPI' && attempt.rail.utr, 'rail', attempt);
  transactionId = attempt.transactionId;
});

await check('getTransactionStatus finds the attempt', async () => {
  const res = await client.getTransactionStatus(transactionId);
  expect(res.state === 'COMPLETED', 'state', res);
  expect(res.paymentDetails[0].transactionId === transactionId, 'transactionId', res);
});

await check('validateCallback accepts the checkout.order.completed webhook', async () => {
  const hit = await receiver.next((h) => h.body.includes('checkout.order.completed'));
  const cb = client.validateCallback(WEBHOOK_USERNAME, WEBHOOK_PASSWORD, hit.authorization, hit.body);
  expect(cb.type === 'CHECKOUT_ORDER_COMPLETED', 'type', cb);
  expect(cb.event === 'checkout.order.completed', 'event', cb);
  expect(cb.payload.merchantOrderId === merchantOrderId, 'payload.merchantOrderId', cb);
  expect(cb.payload.state === 'COMPLETED' && cb.payload.amount === amount, 'payload', cb);
});

await check('validateCallback rejects the webhook under the wrong password', async () => {
  const hit = await receiver.next((h) => h.body.includes('checkout.order.completed'));
  try {
    client.validateCallback(WEBHOOK_USERNAME, `${WEBHOOK_PASSWORD}x`, hit.authorization, hit.body);
  } catch (err) {
    expect(err instanceof PhonePeException && err.httpStatusCode === 417, 'exception', err);
    return;
  }
  throw new Error('validateCallback accepted a forged credential');
});

await check('refund is accepted as PENDING', async () => {
  const request = RefundRequest.builder()
    .merchantRefundId(merchantRefundId)
    .originalMerchantOrderId(merchantOrderId)
    .amount(5000)
    .build();
  const res = await client.refund(request);
  expect(res.refundId && res.refundId.startsWith('OMR'), 'refundId', res);
  expect(res.amount === 5000 && res.state === 'PENDING', 'refund', res);
  refundId = res.refundId;
});

await check('getRefundStatus reaches COMPLETED', async () => {
  let res;
  for (let i = 0; i < 50; i += 1) {
    res = await client.getRefundStatus(merchantRefundId);
    expect(res.merchantRefundId === merchantRefundId, 'merchantRefundId', res);
    expect(res.originalMerchantOrderId === merchantOrderId, 'originalMerchantOrderId', res);
    if (res.state === 'COMPLETED') break;
    expect(res.state === 'PENDING', 'state while waiting', res);
    await sleep(100);
  }
  expect(res.state === 'COMPLETED' && res.refundId === refundId, 'final refund', res);
});

await check('validateCallback accepts the pg.refund.completed webhook', async () => {
  const hit = await receiver.next((h) => h.body.includes('pg.refund.completed'));
  const cb = client.validateCallback(WEBHOOK_USERNAME, WEBHOOK_PASSWORD, hit.authorization, hit.body);
  expect(cb.type === 'PG_REFUND_COMPLETED', 'type', cb);
  expect(cb.payload.merchantRefundId === merchantRefundId, 'payload.merchantRefundId', cb);
  expect(cb.payload.refundId === refundId && cb.payload.state === 'COMPLETED', 'payload', cb);
});

await check('over-refund is a BadRequest', async () => {
  const request = RefundRequest.builder()
    .merchantRefundId(`${merchantOrderId}-R2`)
    .originalMerchantOrderId(merchantOrderId)
    .amount(amount)
    .build();
  try {
    await client.refund(request);
  } catch (err) {
    expect(err instanceof BadRequest && err.code === 'BAD_REQUEST', 'exception', err);
    return;
  }
  throw new Error('over-refund was accepted');
});

await check('unknown order is a BadRequest with MERCHANT_ORDER_MAPPING_NOT_FOUND', async () => {
  try {
    await client.getOrderStatus('NO-SUCH-ORDER', false);
  } catch (err) {
    expect(err instanceof BadRequest, 'exception type', err);
    expect(err.code === 'MERCHANT_ORDER_MAPPING_NOT_FOUND', 'code', err);
    expect(err.message === 'No entry found for Merchant', 'message', err);
    return;
  }
  throw new Error('unknown order did not throw');
});

receiver.server.close();
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
