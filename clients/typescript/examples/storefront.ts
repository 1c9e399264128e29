// The storefront flow, written the way a storefront developer would write it against the typed
// client: walk the catalog page by page, add to the cart, quote a coupon, create the order with
// an Idempotency-Key, start a PhonePe payment and send the shopper to PhonePe, then (on the page
// PhonePe returns to) poll the order until the webhook has settled it, list the order history
// and, once the order has shipped, download its GST invoice.
//
// Every step takes the client as its first argument, so the same code runs in the browser
// (`browserStorefront()` below: Clerk's session token, PhonePe's page in the same tab) and in
// CI: `make test` runs `shop` and `downloadInvoice` against the local stack through
// ../e2e/run-storefront.ts, which presses Pay on the PhonePe simulator's page and checks every
// response against openapi.yaml (scripts/storefront-check.sh; docs/storefront.md).

import {
  createPitalyaClient,
  isProblem,
  newIdempotencyKey,
  type AddressInput,
  type Invoice,
  type Order,
  type OrderStatus,
  type Paise,
  type PaymentInitiation,
  type PitalyaClient,
  type Product,
  type Variant,
} from "../src/index.js";

// --- money is integer paise -------------------------------------------------------------------

const inr = new Intl.NumberFormat("en-IN", { style: "currency", currency: "INR" });
export function rupees(amount: Paise): string {
  return inr.format(amount / 100); // 129900 → ₹1,299.00
}

const sleep = (seconds: number) => new Promise<void>((resolve) => setTimeout(resolve, seconds * 1000));

// --- 1. the catalog (no sign-in needed), page by page -----------------------------------------

/** Every active product, newest first, following `nextCursor` until it is null. */
export async function allProducts(api: PitalyaClient, pageSize = 50): Promise<{ products: Product[]; pages: number }> {
  const products: Product[] = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    const page = await api.listProducts(cursor === undefined ? { limit: pageSize } : { limit: pageSize, cursor });
    pages++;
    products.push(...page.items);
    cursor = page.nextCursor ?? undefined;
  } while (cursor !== undefined);
  return { products, pages };
}

// --- 2. the cart ------------------------------------------------------------------------------

/** The option values a shopper has chosen so far, by option name (`{Size: "8 in"}`). */
export type Chosen = Record<string, string>;

/** The variant sold for exactly these option values, or undefined if that combination is not
 * sold. A product without options has one variant, which `{}` picks. */
export function pickVariant(product: Product, chosen: Chosen): Variant | undefined {
  return product.variants.find((v) => product.options.every((o) => v.options[o.name] === chosen[o.name]));
}

/** The size picker's state for one option: each value, and whether picking it (with what is
 * already chosen for the other options) leads to a variant in stock. Values that don't are
 * shown greyed out. */
export function choicesFor(product: Product, option: string, chosen: Chosen): { value: string; inStock: boolean }[] {
  const values = product.options.find((o) => o.name === option)?.values ?? [];
  return values.map((value) => {
    const wanted = { ...chosen, [option]: value };
    const matches = product.variants.filter((v) =>
      Object.entries(wanted).every(([name, val]) => v.options[name] === val));
    return { value, inStock: matches.some((v) => v.stock > 0) };
  });
}

/** Picks, option by option, the last value (the largest size, say) still in stock. */
export function pickLargestInStock(product: Product): Variant | undefined {
  const chosen: Chosen = {};
  for (const option of product.options) {
    const open = choicesFor(product, option.name, chosen).filter((c) => c.inStock);
    const last = open[open.length - 1];
    if (!last) return undefined;
    chosen[option.name] = last.value;
  }
  return pickVariant(product, chosen);
}

export async function addToCart(api: PitalyaClient, product: Product, variant: Variant, quantity: number): Promise<string> {
  const name = product.options.length ? `${product.name} — ${variant.title}` : product.name;
  try {
    const cart = await api.addToCart({ variantId: variant.id, quantity });
    return `${cart.itemCount} items, ${rupees(cart.subtotal)}`;
  } catch (err) {
    if (isProblem(err, "INSUFFICIENT_STOCK")) {
      return `Only ${err.problem.available ?? 0} of ${name} left`;
    }
    if (isProblem(err, "PRODUCT_UNAVAILABLE", "PRODUCT_NOT_FOUND")) {
      return `${name} is no longer sold`;
    }
    throw err;
  }
}

// --- 3. a coupon quote ------------------------------------------------------------------------

export async function quoteCoupon(api: PitalyaClient, code: string): Promise<string> {
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

export type CheckoutOutcome =
  | { kind: "ordered"; order: Order }
  | { kind: "fix-fields"; fields: Record<string, string> }
  | { kind: "cart-changed"; message: string };

export interface Checkout {
  shippingAddress: AddressInput;
  couponCode?: string;
  /**
   * One key per checkout attempt (made when the shopper presses "Place order"), kept across
   * retries and reloads: the API creates at most one order for it, and a repeat with the same
   * body answers 200 with the order the first one made.
   */
  idempotencyKey: string;
}

export async function placeOrder(api: PitalyaClient, checkout: Checkout): Promise<CheckoutOutcome> {
  const { shippingAddress, couponCode, idempotencyKey } = checkout;
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

// --- 5. pay with PhonePe: the shopper goes to PhonePe's page ----------------------------------

/** What the storefront does with PhonePe's page: the browser leaves for it; a test presses Pay. */
export type PhonePePage = (payment: PaymentInitiation) => Promise<void>;

/** Starts a PhonePe attempt and sends the shopper to its page; false when there is nothing to pay. */
export async function payWithPhonePe(api: PitalyaClient, order: Order, openPage: PhonePePage): Promise<boolean> {
  if (order.payment.status === "not_required") return false; // a zero-total order: nothing to collect
  const payment = await api.initiatePhonePePayment(order.id);
  await openPage(payment);
  return true;
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

export interface Polling {
  timeoutSeconds: number;
  intervalSeconds: number;
}

/** Polls the order until the payment is no longer being confirmed (or the time is up). */
export async function waitForPayment(
  api: PitalyaClient,
  orderId: string,
  { timeoutSeconds, intervalSeconds }: Polling = { timeoutSeconds: 120, intervalSeconds: 3 },
): Promise<{ order: Order; view: PaymentView; polls: number }> {
  const deadline = Date.now() + timeoutSeconds * 1000;
  for (let polls = 1; ; polls++) {
    const order = await api.getOrder(orderId);
    const view = viewOf(order);
    if (view !== "confirming" || Date.now() > deadline) return { order, view, polls };
    await sleep(intervalSeconds);
  }
}

// --- 7. order history -------------------------------------------------------------------------

/** The shopper's orders, newest first, every page. */
export async function orderHistory(api: PitalyaClient, pageSize = 20): Promise<Order[]> {
  const orders: Order[] = [];
  let cursor: string | undefined;
  do {
    const page = await api.listMyOrders(cursor === undefined ? { limit: pageSize } : { limit: pageSize, cursor });
    orders.push(...page.items);
    cursor = page.nextCursor ?? undefined;
  } while (cursor !== undefined);
  return orders;
}

// --- 8. the invoice, once the order has shipped -------------------------------------------------

/** The GST invoice as data and as the PDF to save; null until the owner ships the order. */
export async function downloadInvoice(
  api: PitalyaClient,
  orderId: string,
): Promise<{ invoice: Invoice; pdf: Blob; fileName: string } | null> {
  try {
    const invoice = await api.getInvoice(orderId);
    const pdf = await api.getInvoicePdf(orderId);
    return { invoice, pdf, fileName: `${invoice.number.replaceAll("/", "-")}.pdf` };
  } catch (err) {
    if (isProblem(err, "INVOICE_NOT_FOUND")) return null; // not shipped yet
    throw err;
  }
}

// --- the whole flow ---------------------------------------------------------------------------

export interface ShopOptions {
  shippingAddress: AddressInput;
  couponCode: string;
  /** A fresh one per checkout attempt (`newIdempotencyKey()`). */
  idempotencyKey: string;
  openPhonePePage: PhonePePage;
  pageSize?: number;
  polling?: Polling;
  log?: (line: string) => void;
}

export type ShopResult =
  | { kind: "nothing-to-buy" }
  | { kind: "not-ordered"; outcome: Exclude<CheckoutOutcome, { kind: "ordered" }> }
  | { kind: "ordered"; order: Order; view: PaymentView; history: Order[]; catalogPages: number; product: Product; variant: Variant };

/** Buys one unit of a product in stock (picking its size, if it comes in sizes) with a coupon
 * and pays for it with PhonePe. */
export async function shop(api: PitalyaClient, options: ShopOptions): Promise<ShopResult> {
  const log = options.log ?? (() => undefined);
  const { products, pages } = await allProducts(api, options.pageSize);
  log(`catalog: ${products.length} products in ${pages} pages`);
  // A product in sizes and finishes if there is one in stock (the size picker's path), else any.
  const withOptions = products.filter((p) => p.options.length > 0 && p.stock > 0);
  const product = withOptions[0] ?? products.find((p) => p.stock > 0);
  if (!product) return { kind: "nothing-to-buy" };
  const variant = pickLargestInStock(product);
  if (!variant) return { kind: "nothing-to-buy" };
  const range = product.priceRange.min === product.priceRange.max
    ? rupees(product.price)
    : `${rupees(product.priceRange.min)} – ${rupees(product.priceRange.max)}`;
  log(`${product.name}: ${range}; picked ${variant.title} (${variant.sku}) at ${rupees(variant.price)}, ${variant.stock} in stock`);
  log(`cart: ${await addToCart(api, product, variant, 1)}`);
  log(`coupon: ${await quoteCoupon(api, options.couponCode)}`);

  const outcome = await placeOrder(api, {
    shippingAddress: options.shippingAddress,
    couponCode: options.couponCode,
    idempotencyKey: options.idempotencyKey,
  });
  if (outcome.kind !== "ordered") return { kind: "not-ordered", outcome };
  const placed = outcome.order;
  log(`order ${placed.number}: ${rupees(placed.total)} (−${rupees(placed.discount)})`);

  await payWithPhonePe(api, placed, options.openPhonePePage);
  const { order, view, polls } = await waitForPayment(api, placed.id, options.polling);
  log(`payment: ${view} (${order.status}, ${order.payment.status}) after ${polls} polls`);
  const history = await orderHistory(api, options.pageSize);
  log(`history: ${history.map((o) => `${o.number} ${o.status}`).join(", ")}`);
  return { kind: "ordered", order, view, history, catalogPages: pages, product, variant };
}

// --- in the browser ---------------------------------------------------------------------------

// Clerk, as the browser has it (`@clerk/clerk-js` loaded on the page).
declare const Clerk: { session?: { getToken(): Promise<string | null> } | null } | undefined;

/** The client and PhonePe's page as a storefront in the browser has them. */
export function browserStorefront(baseUrl: string): { api: PitalyaClient; openPhonePePage: PhonePePage } {
  const api = createPitalyaClient({
    // The stack's `ApiUrl` output in AWS; `make dev` serves http://127.0.0.1:3000.
    baseUrl,
    // A fresh Clerk session token per request (Clerk caches and refreshes it). The session-token
    // template must carry `email` and `metadata` (docs/clerk.md).
    getToken: () => Clerk?.session?.getToken() ?? null,
  });
  const openPhonePePage: PhonePePage = async ({ orderId, merchantOrderId, redirectUrl }) => {
    // The tab leaves for PhonePe and comes back to PHONEPE_REDIRECT_URL, where the page reads
    // this and calls waitForPayment.
    sessionStorage.setItem("pitalya:paying", JSON.stringify({ orderId, merchantOrderId }));
    window.location.assign(redirectUrl);
    return new Promise<void>(() => undefined); // this page is going away: the flow goes on in onReturnFromPhonePe
  };
  return { api, openPhonePePage };
}

/** The page PhonePe sends the shopper back to: poll the order the tab left to pay for. */
export async function onReturnFromPhonePe(baseUrl: string, orderId: string): Promise<string> {
  const { api } = browserStorefront(baseUrl);
  sessionStorage.removeItem("pitalya:paying");
  const { order, view } = await waitForPayment(api, orderId);
  switch (view) {
    case "confirmed":
      return `Thank you! Order ${order.number} is paid.`;
    case "confirming":
      return "We are still confirming your payment with PhonePe; this page will update.";
    case "pay-again":
      return `The payment did not go through: pay ${rupees(order.total)} again.`;
    case "cancelled":
      return `Order ${order.number} was cancelled.`;
  }
}

/** The "Place order" button: a new key for this attempt, the order, then PhonePe. */
export async function checkoutInTheBrowser(baseUrl: string, shippingAddress: AddressInput): Promise<string> {
  const { api, openPhonePePage } = browserStorefront(baseUrl);
  const result = await shop(api, { shippingAddress, couponCode: "WELCOME10", idempotencyKey: newIdempotencyKey(), openPhonePePage });
  switch (result.kind) {
    case "nothing-to-buy":
      return "Sold out";
    case "not-ordered":
      return result.outcome.kind === "fix-fields" ? `Please fix: ${Object.keys(result.outcome.fields).join(", ")}` : result.outcome.message;
    case "ordered":
      return `Order ${result.order.number}: ${result.view}`;
  }
}
