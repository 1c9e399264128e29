// What the client does on the wire, against a fake fetch (no server): the Bearer token, the
// Idempotency-Key, and problem documents thrown as PitalyaProblem with code, detail, errors,
// requestId and retryAfter. scripts/client.sh packs the package (dist/) first.
import { test } from "node:test";
import assert from "node:assert/strict";

const { createPitalyaClient, isProblem, newIdempotencyKey, PitalyaError, PitalyaProblem } = await import(
  process.env.PITALYA_CLIENT_BUILD ?? "../dist/index.js"
);

const json = (status, body, headers = {}) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });
const problem = (status, code, extra = {}, headers = {}) =>
  new Response(JSON.stringify({ type: "about:blank", title: "x", status, code, detail: `${code} detail`, ...extra }), {
    status,
    headers: { "content-type": "application/problem+json", ...headers },
  });

/** A client whose fetch answers with `answer(request)` and records every request. */
function fake(answer, getToken = async () => "tok_123") {
  const requests = [];
  const client = createPitalyaClient({
    baseUrl: "http://api.test/",
    getToken,
    fetch: async (request) => {
      requests.push(request);
      return answer(request);
    },
  });
  return { client, requests };
}

const address = { name: "Asha Iyer", phone: "+919876543210", line1: "12 Temple Street", city: "Chennai", state: "Tamil Nadu", pincode: "600004" };

test("sends the session token as a Bearer token, and none when signed out", async () => {
  const page = { items: [], nextCursor: null };
  const signedIn = fake(() => json(200, page));
  assert.deepEqual(await signedIn.client.listProducts({ limit: 3 }), page);
  assert.equal(signedIn.requests[0].url, "http://api.test/products?limit=3");
  assert.equal(signedIn.requests[0].headers.get("authorization"), "Bearer tok_123");

  const signedOut = fake(() => json(200, page), () => null);
  await signedOut.client.listProducts();
  assert.equal(signedOut.requests[0].headers.get("authorization"), null);
});

test("createOrder and refundOrder send the Idempotency-Key; other calls do not", async () => {
  const order = { id: "6650f3c2a1b4e5d6f7a8b9c0", number: "PIT-1001" };
  const { client, requests } = fake(() => json(201, order));
  const key = newIdempotencyKey();
  assert.match(key, /^[\x21-\x7E]{1,128}$/);
  assert.deepEqual(await client.createOrder({ shippingAddress: address, couponCode: "WELCOME10" }, { idempotencyKey: key }), order);
  assert.equal(requests[0].method, "POST");
  assert.equal(requests[0].url, "http://api.test/orders/create");
  assert.equal(requests[0].headers.get("idempotency-key"), key);
  assert.deepEqual(JSON.parse(await requests[0].text()), { shippingAddress: address, couponCode: "WELCOME10" });

  await client.refundOrder(order.id, { restock: true, reason: "damaged" }, { idempotencyKey: "refund-1" });
  assert.equal(requests[1].url, `http://api.test/admin/orders/${order.id}/refund`);
  assert.equal(requests[1].headers.get("idempotency-key"), "refund-1");

  await client.initiatePhonePePayment(order.id);
  assert.equal(requests[2].headers.get("idempotency-key"), null);
});

test("a problem document is a PitalyaProblem with code, detail, errors, requestId and retryAfter", async () => {
  const { client } = fake((request) =>
    request.url.endsWith("/cart/add")
      ? problem(400, "VALIDATION_FAILED", { errors: [{ field: "quantity", message: "must be 1 to 99" }] }, { "x-request-id": "req-1" })
      : problem(429, "RATE_LIMITED", { requestId: "req-2" }, { "retry-after": "7" }),
  );

  const invalid = await client.addToCart({ productId: "6650f3c2a1b4e5d6f7a8b9c0", quantity: 0 }).catch((e) => e);
  assert.ok(invalid instanceof PitalyaProblem && invalid instanceof PitalyaError);
  assert.equal(invalid.status, 400);
  assert.equal(invalid.code, "VALIDATION_FAILED");
  assert.equal(invalid.detail, "VALIDATION_FAILED detail");
  assert.deepEqual(invalid.errors, [{ field: "quantity", message: "must be 1 to 99" }]);
  assert.equal(invalid.requestId, "req-1");
  assert.equal(invalid.retryAfter, undefined);
  assert.ok(isProblem(invalid) && isProblem(invalid, "VALIDATION_FAILED") && !isProblem(invalid, "RATE_LIMITED"));

  const limited = await client.applyCoupon("WELCOME10").catch((e) => e);
  assert.equal(limited.code, "RATE_LIMITED");
  assert.equal(limited.retryAfter, 7);
  assert.equal(limited.requestId, "req-2"); // from the body when the header is missing
  assert.deepEqual(limited.errors, []);
});

test("API Gateway's own answers are a PitalyaError, not a problem", async () => {
  const { client } = fake(() => json(503, { message: "Service Unavailable" }));
  const err = await client.getOrder("PIT-1001").catch((e) => e);
  assert.ok(err instanceof PitalyaError && !(err instanceof PitalyaProblem));
  assert.equal(err.status, 503);
  assert.equal(err.message, "Service Unavailable");
  assert.equal(isProblem(err), false);
});
