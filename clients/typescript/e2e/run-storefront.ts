// Runs the storefront flow of ../examples/storefront.ts against a running stack, as CI does
// (`make test`, through scripts/storefront-check.sh): the dev customer token plays the shopper,
// the PhonePe simulator's hosted page is completed the way its Pay button does it, and the
// owner (the dev admin token) packs and ships the order so that the customer can download the
// GST invoice, then refunds part of it so that a credit note is issued against that invoice.
// Every response of the API is checked against openapi.yaml (./spec-check.ts); any mismatch,
// any unexpected outcome, fails the run with a non-zero exit.
//
// Environment: API_URL, CUSTOMER_TOKEN, ADMIN_TOKEN (scripts/stack.sh's stack_up exports them;
// against `make dev`, `make token` prints tokens), OPENAPI (the spec; by default ../../openapi.yaml
// from the working directory, clients/typescript), STOREFRONT_OUT (a directory to save the invoice PDF in, optional).

import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createPitalyaClient, isProblem, newIdempotencyKey, type Order, type PitalyaClient } from "../src/index.js";
import { downloadInvoice, orderHistory, quoteCoupon, rupees, shop, type PhonePePage } from "../examples/storefront.js";
import { OpenApiSpec } from "./spec-check.js";

function env(name: string, fallback?: string): string {
  const value = process.env[name] ?? fallback;
  if (value === undefined || value === "") throw new Error(`${name} is not set (see the header of run-storefront.ts)`);
  return value;
}

const started = Date.now();
const apiUrl = env("API_URL");
const spec = new OpenApiSpec(env("OPENAPI", join(process.cwd(), "../../openapi.yaml")));
const client = (token: string): PitalyaClient =>
  createPitalyaClient({ baseUrl: apiUrl, getToken: () => token, fetch: spec.fetch(apiUrl) });
const shopper = client(env("CUSTOMER_TOKEN"));
const owner = client(env("ADMIN_TOKEN"));

let steps = 0;
function ok(what: string): void {
  steps++;
  console.log(`ok ${steps} - ${what}`);
}
function expect(condition: boolean, what: string): void {
  if (!condition) throw new Error(`expected: ${what}`);
  ok(what);
}
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

// PhonePe's hosted page is the simulator's: its Pay button posts to `{redirectUrl}/complete`,
// which settles the payment (the webhook to the API) and redirects to PHONEPE_REDIRECT_URL.
// Not an API call, so not checked against openapi.yaml.
const pressPay: PhonePePage = async ({ redirectUrl, orderId }) => {
  const page = await fetch(redirectUrl);
  const html = await page.text();
  expect(page.status === 200 && html.includes("₹"), `PhonePe's page opens and shows the amount (${page.status})`);
  const paid = await fetch(`${redirectUrl}/complete`, { method: "POST", redirect: "manual" });
  const back = paid.headers.get("location") ?? "";
  expect(paid.status === 303 && back.includes(orderId), `Pay sends the shopper back to the storefront: ${paid.status} ${back}`);
};

async function waitFor<T>(what: string, get: () => Promise<T>, done: (value: T) => boolean, seconds = 30): Promise<T> {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const value = await get();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${seconds}s waiting for ${what}`);
    await sleep(250);
  }
}

async function main(): Promise<void> {
  // Problem documents are checked against the spec like everything else.
  expect((await quoteCoupon(shopper, "NO_SUCH_COUPON")).length > 0, "an unknown coupon is a COUPON_NOT_FOUND problem");

  const idempotencyKey = newIdempotencyKey();
  const shippingAddress = {
    name: "Asha Iyer",
    phone: "+919876543210",
    line1: "12 Temple Street",
    city: "Chennai",
    state: "Tamil Nadu",
    pincode: "600004",
  };
  const result = await shop(shopper, {
    shippingAddress,
    couponCode: "WELCOME10",
    idempotencyKey,
    openPhonePePage: pressPay,
    pageSize: 4, // the seeded catalog is 11 products: three pages
    polling: { timeoutSeconds: 30, intervalSeconds: 0.25 },
    log: (line) => console.log(`# ${line}`),
  });
  if (result.kind !== "ordered") throw new Error(`the flow did not order: ${JSON.stringify(result)}`);
  const { order, view, history, catalogPages, product, variant } = result;
  expect(catalogPages > 1, `the catalog was walked page by page with nextCursor (${catalogPages} pages)`);
  expect(product.options.length > 0 && product.priceRange.min < product.priceRange.max,
    `the size picker chose ${variant.title} of ${product.name} (${product.options.map((o) => o.name).join(" × ")}, ${rupees(product.priceRange.min)}–${rupees(product.priceRange.max)})`);
  const [item] = order.items;
  expect(order.items.length === 1 && item?.variantId === variant.id && item.sku === variant.sku && item.variantTitle === variant.title,
    `the order names the variant: ${item?.variantTitle} (${item?.sku})`);
  expect(order.couponCode === "WELCOME10" && order.discount > 0, `the coupon took ${rupees(order.discount)} off`);
  expect(view === "confirmed" && order.status === "paid" && order.payment.status === "paid", `the order is paid (${order.status})`);
  expect(typeof order.payment.transactionId === "string", "the order carries the PhonePe transaction id");
  expect(history.some((o) => o.id === order.id && o.status === "paid"), "the order history lists it as paid");

  // Retrying the checkout with the same key creates nothing: the same order comes back.
  const replay = await shopper.createOrder({ shippingAddress, couponCode: "WELCOME10" }, { idempotencyKey });
  expect(replay.id === order.id, `a repeat with the same Idempotency-Key answers the same order ${replay.number}`);
  const after: Order[] = await orderHistory(shopper);
  expect(after.length === history.length, "and adds no order to the history");

  expect((await downloadInvoice(shopper, order.id)) === null, "no invoice before the order ships (INVOICE_NOT_FOUND)");

  // The owner packs and ships it: shipping issues the invoice.
  expect((await owner.packOrder(order.id)).status === "packed", "the owner packs the order");
  const shipped = await owner.shipOrder(order.id, { carrier: "Delhivery", trackingNumber: "DL1234567890IN" });
  expect(shipped.status === "shipped" && typeof shipped.shipping.trackingUrl === "string", "the owner ships it, with a tracking link");

  const download = await downloadInvoice(shopper, order.id);
  if (download === null) throw new Error("no invoice after shipping");
  const { invoice, pdf, fileName } = download;
  expect(invoice.order.id === order.id && invoice.totals.total === order.total, `invoice ${invoice.number} for ${rupees(invoice.totals.total)}`);
  const lineSum = invoice.lines.reduce((sum, l) => sum + l.total, invoice.shipping.total);
  expect(lineSum === invoice.totals.total, "its lines and shipping add up to its total");
  const bytes = new Uint8Array(await pdf.arrayBuffer());
  expect(pdf.size > 1000 && new TextDecoder().decode(bytes.slice(0, 5)) === "%PDF-", `the invoice PDF downloads (${pdf.size} bytes)`);
  const out = process.env.STOREFRONT_OUT;
  if (out) {
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, fileName), bytes);
    console.log(`# saved ${join(out, fileName)}`);
  }

  // A partial refund of an invoiced order issues a credit note against the invoice.
  const refunded = await owner.refundOrder(order.id, { amount: 10000, restock: false, reason: "Dented rim" }, { idempotencyKey: newIdempotencyKey() });
  expect(refunded.refunds.length === 1, "the owner refunds ₹100.00 of it");
  const withNote = await waitFor(
    "the credit note",
    () => owner.getOrderInvoice(order.id),
    (i) => i.creditNotes.length > 0,
    60, // the jobs loop settles the refund: every 2 s in stack_up, every 15 s under make dev
  );
  const [note] = withNote.creditNotes;
  expect(note !== undefined && note.total === 10000, `credit note ${note?.number ?? "?"} for ${rupees(note?.total ?? 0)} against ${withNote.number}`);

  const detail = await owner.getOrderDetail(order.number);
  expect(
    detail.invoice?.number === invoice.number && detail.creditNotes.length === 1 && detail.mails.length > 0,
    `the owner's order detail (by number ${order.number}) shows the invoice, the credit note and ${detail.mails.length} mails`,
  );

  // Signed out, the customer's routes answer 401 problems (checked against the spec too).
  const anonymous = createPitalyaClient({ baseUrl: apiUrl, fetch: spec.fetch(apiUrl) });
  try {
    await anonymous.getInvoice(order.id);
    throw new Error("a signed-out invoice download was answered");
  } catch (err) {
    expect(isProblem(err, "UNAUTHENTICATED"), "signed out, the invoice is a 401 UNAUTHENTICATED problem");
  }
}

try {
  await main();
  const operations = new Set(spec.checked.map((c) => `${c.operationId} ${c.status}`));
  console.log(
    `storefront flow: ${steps} checks passed; ${spec.checked.length} responses matched openapi.yaml ` +
      `(${operations.size} operation/status pairs: ${[...operations].sort().join(", ")}) in ${((Date.now() - started) / 1000).toFixed(1)}s`,
  );
} catch (err) {
  console.error(`not ok - ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exitCode = 1;
}
