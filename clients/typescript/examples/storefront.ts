// The storefront flow, written the way a storefront developer would write it against the typed
// client: list products, add to the cart, quote a coupon, create the order with an
// Idempotency-Key, start a PhonePe payment and send the browser to PhonePe, then (on the page
// PhonePe returns to) poll the order until the webhook has settled it.
//
// CI does not run this file; it type-checks it (`scripts/client.sh --check`, `tsc --noEmit`)
// against the types generated from openapi.yaml, so a spec change that would break a storefront
// written like this fails `make test`. See docs/storefront.md.

import {
  createPitalyaClient,
  isProblem,
  newIdempotencyKey,
  type AddressInput,
  type Order,
  type OrderStatus,
  type Paise,
  type PitalyaClient,
  type Product,
} from "../src/index.js";

// --- Clerk, as the browser has it (`@clerk/clerk-js` loaded on the page) -----------------------

declare const Clerk: { session?: { getToken(): Promise<string | null> } | null } | undefined;

export const api: PitalyaClient = createPitalyaClient({
  // The stack's `ApiUrl` output in AWS; `make dev` serves http://127.0.0.1:3000.
  baseUrl: "https://abcdef1234.execute-api.ap-south-1.amazonaws.com",
  // A fresh Clerk session token per request (Clerk caches and refreshes it). The session-token
  // template must carry `email` and `metadata` (docs/clerk.md).
  getToken: () => Clerk?.session?.getToken() ?? null,
});

// --- money is integer paise -------------------------------------------------------------------

const inr = new Intl.NumberFormat("en-IN", { style: "currency", currency: "INR" });
export function rupees(amount: Paise): string {
  return inr.format(amount / 100); // 129900 → ₹1,299.00
}

// --- 1. the catalog (no sign-in needed) -------------------------------------------------------

export async function allProducts(): Promise<Product[]> {
  const products: Product[] = [];
  let cursor: string | undefined;
  do {
    const page = await api.listProducts(cursor === undefined ? { limit: 50 } : { limit: 50, cursor });
    products.push(...page.items);
    cursor = page.nextCursor ?? undefined;
  } while (cursor !== undefined);
  return products;
}

// --- 2. the cart ------------------------------------------------------------------------------

export async function addToCart(product: Product, quantity: number): Promise<string> {
  try {
    const cart = await api.addToCart({ productId: product.id, quantity });
    return `${cart.itemCount} items, ${rupees(cart.subtotal)}`;
  } catch (err) {
    if (isProblem(err, "INSUFFICIENT_STOCK")) {
      return `Only ${err.problem.available ?? 0} of ${product.name} left`;
    }
    if (isProblem(err, "PRODUCT_UNAVAILABLE", "PRODUCT_NOT_FOUND")) {
      return `${product.name} is no longer sold`;
    }
    throw err;
  }
}

// --- 3. a coupon quote ------------------------------------------------------------------------

export async function quoteCoupon(code: string): Promise<string> {
  try {
    const quote = await api.applyCoupon(code);
    return `${quote.code}: −${rupees(quote.discount)}, you pay ${rupees(quote.newTotal)}`;
  } catch (err) {
    if (isProblem(err, "MIN_ORDER_NOT_MET")) {
      return `Spend ${rupees(err.problem.minOrderValue ?? 0)} to use ${code}`;
    }
    if (isProblem(err, "COUPON_NOT_FOUND", "COUPON_EXPIRED", "COUPON_EXHAUSTED")) {
      return err.detail;
    }
    throw err;
  }
}

// --- 4. checkout: create the order, once, whatever the network does ----------------------------

const sleep = (seconds: number) => new Promise<void>((resolve) => setTimeout(resolve, seconds * 1000));

export type CheckoutOutcome =
  | { kind: "ordered"; order: Order }
  | { kind: "fix-fields"; fields: Record<string, string> }
  | { kind: "cart-changed"; message: string };

export async function placeOrder(shippingAddress: AddressInput, couponCode?: string): Promise<CheckoutOutcome> {
  // One key per checkout attempt, kept across retries: the API creates at most one order for it
  // (a repeat with the same body answers 200 with the order the first one made).
  const idempotencyKey = newIdempotencyKey();
  const body = couponCode === undefined ? { shippingAddress } : { shippingAddress, couponCode };
  for (let attempt = 1; ; attempt++) {
    try {
      const order = await api.createOrder(body, { idempotencyKey });
      return { kind: "ordered", order };
    } catch (err) {
      if (isProblem(err, "VALIDATION_FAILED")) {
        return { kind: "fix-fields", fields: Object.fromEntries(err.errors.map((e) => [e.field, e.message])) };
      }
      if (isProblem(err, "PRICE_CHANGED")) {
        // The API has refreshed the cart to today's prices; show it and ask again.
        const lines = (err.problem.lines ?? []).map(
          (l) => `${l.name}: ${rupees(l.previousPrice ?? 0)} → ${rupees(l.price ?? 0)}`,
        );
        const total = err.problem.cart ? rupees(err.problem.cart.subtotal) : "";
        return { kind: "cart-changed", message: `${lines.join(", ")}. New subtotal ${total}` };
      }
      if (isProblem(err, "INSUFFICIENT_STOCK", "PRODUCT_UNAVAILABLE", "PRODUCT_NOT_TAXABLE")) {
        const names = (err.problem.lines ?? []).map((l) => l.name).join(", ");
        return { kind: "cart-changed", message: `${err.detail} (${names})` };
      }
      // A twin request still running, a locked record or a rate limit: the same request, same
      // key, after the wait the API asked for.
      if (isProblem(err, "IDEMPOTENCY_KEY_IN_USE", "TRY_AGAIN", "RATE_LIMITED") && attempt < 4) {
        await sleep(err.retryAfter ?? attempt);
        continue;
      }
      throw err; // CART_EMPTY, COUPON_*, UNAUTHENTICATED (sign in again), INTERNAL (quote err.requestId)
    }
  }
}

// --- 5. pay with PhonePe: the browser leaves for PhonePe's page --------------------------------

export async function payWithPhonePe(order: Order): Promise<void> {
  if (order.payment.status === "not_required") return; // a zero-total order: nothing to collect
  const { redirectUrl, merchantOrderId } = await api.initiatePhonePePayment(order.id);
  sessionStorage.setItem("pitalya:paying", JSON.stringify({ orderId: order.id, merchantOrderId }));
  window.location.assign(redirectUrl);
}

// --- 6. back from PhonePe (PHONEPE_REDIRECT_URL, e.g. /orders/{orderId}): poll the order -------

export type PaymentView = "confirmed" | "confirming" | "pay-again" | "cancelled";

export function viewOf(order: Order): PaymentView {
  const status: OrderStatus = order.status;
  switch (status) {
    case "paid":
    case "packed":
    case "shipped":
    case "delivered":
      return "confirmed";
    case "created":
      return "pay-again";
    case "payment_pending":
      return order.payment.status === "failed" ? "pay-again" : "confirming";
    case "cancelled":
      return "cancelled";
    default: {
      // A status the spec adds makes this line fail to compile: the storefront must handle it.
      const unhandled: never = status;
      return unhandled;
    }
  }
}

export async function waitForPayment(orderId: string, timeoutSeconds = 120): Promise<{ order: Order; view: PaymentView }> {
  const deadline = Date.now() + timeoutSeconds * 1000;
  for (;;) {
    const order = await api.getOrder(orderId);
    const view = viewOf(order);
    if (view !== "confirming" || Date.now() > deadline) return { order, view };
    await sleep(3);
  }
}

// --- the whole flow ---------------------------------------------------------------------------

export async function buyFirstProduct(): Promise<void> {
  const [product] = await allProducts();
  if (!product) return;
  console.log(`${product.name}: ${rupees(product.price)} (${product.stock} in stock)`);
  console.log(await addToCart(product, 1));
  console.log(await quoteCoupon("WELCOME10"));

  const outcome = await placeOrder(
    { name: "Asha Iyer", phone: "+919876543210", line1: "12 Temple Street", city: "Chennai", state: "Tamil Nadu", pincode: "600004" },
    "WELCOME10",
  );
  switch (outcome.kind) {
    case "ordered":
      console.log(`Order ${outcome.order.number}: ${rupees(outcome.order.total)} (−${rupees(outcome.order.discount)})`);
      await payWithPhonePe(outcome.order);
      break;
    case "fix-fields":
      console.log("Please fix:", outcome.fields);
      break;
    case "cart-changed":
      console.log(outcome.message);
      break;
  }
}
