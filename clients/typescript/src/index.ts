// A small typed client for the Pitalya commerce API.
//
// Every type here comes from `./schema.d.ts`, which `make client` generates from
// ../../openapi.yaml with openapi-typescript; nothing about the wire format is written by hand.
// The requests go through openapi-fetch, so paths, parameters and bodies are checked against the
// spec at compile time. What this file adds:
//   - `Authorization: Bearer <Clerk session token>` on every request (from `getToken`),
//   - a required `Idempotency-Key` on the two calls that take one (createOrder, refundOrder),
//   - non-2xx answers thrown as `PitalyaProblem` (an RFC 9457 problem document, typed `code`)
//     or `PitalyaError` (API Gateway's own `{"message": ...}` answers, or anything else).
// `client.raw` is the underlying openapi-fetch client for the routes without a method below.

import createClient, { type Client, type Middleware } from "openapi-fetch";
import type { components, operations, paths } from "./schema.js";

export type { components, operations, paths } from "./schema.js";

export type Schemas = components["schemas"];
export type Product = Schemas["Product"];
export type Variant = Schemas["Variant"];
export type ProductPage = Schemas["ProductPage"];
export type Cart = Schemas["Cart"];
export type CartItem = Schemas["CartItem"];
export type CouponQuote = Schemas["CouponQuote"];
export type CreateOrderRequest = Schemas["CreateOrderRequest"];
export type AddressInput = Schemas["AddressInput"];
export type Order = Schemas["Order"];
export type OrderPage = Schemas["OrderPage"];
export type OrderStatus = Schemas["OrderStatus"];
export type PaymentInitiation = Schemas["PaymentInitiation"];
export type RefundOrderRequest = Schemas["RefundOrderRequest"];
export type ShipOrderRequest = Schemas["ShipOrderRequest"];
/** A GST tax invoice, issued when the order ships (`getInvoice`). */
export type Invoice = Schemas["Invoice"];
/** The owner's copy: the invoice plus the credit notes issued against it (`getOrderInvoice`). */
export type AdminInvoice = Schemas["AdminInvoice"];
export type CreditNoteSummary = Schemas["CreditNoteSummary"];
/** Integer paise (INR): 129900 is ₹1,299.00. */
export type Paise = Schemas["Paise"];
export type Problem = Schemas["Problem"];
/** Every `code` the API sends in a problem document (the spec's `ProblemCode` enum). */
export type ProblemCode = Schemas["ProblemCode"];
export type FieldError = Schemas["FieldError"];

/** A Clerk session token, or null/undefined when signed out (the header is then left off). */
export type TokenSource = () => string | null | undefined | Promise<string | null | undefined>;

export interface PitalyaClientOptions {
  /** The API's origin, e.g. `https://abcdef1234.execute-api.ap-south-1.amazonaws.com` or `http://127.0.0.1:3000`. */
  baseUrl: string;
  /** Called before each request; with Clerk: `() => Clerk.session?.getToken() ?? null`. */
  getToken?: TokenSource;
  /** A fetch implementation (defaults to `globalThis.fetch`). */
  fetch?: (input: Request) => Promise<Response>;
  /** Extra headers for every request (e.g. `x-request-id`). */
  headers?: Record<string, string>;
}

/** Options of a call that the API deduplicates by `Idempotency-Key`. */
export interface IdempotentCall {
  /**
   * One key per user intent (one checkout attempt, one refund): reuse the same key when retrying
   * that intent after a timeout or a 503, so it is carried out at most once. 1–128 printable
   * ASCII characters; `newIdempotencyKey()` makes one.
   */
  idempotencyKey: Schemas["IdempotencyKey"];
}

/** A fresh random Idempotency-Key (a UUID). */
export function newIdempotencyKey(): string {
  return globalThis.crypto.randomUUID();
}

/** Any non-2xx answer. A problem document is the subclass `PitalyaProblem`. */
export class PitalyaError extends Error {
  /** The HTTP status. */
  readonly status: number;
  /** The response's `x-request-id` (quote it when reporting a problem); absent on API Gateway's own answers. */
  readonly requestId: string | undefined;
  /** Seconds to wait before sending the same request again (`Retry-After`), when the API says so. */
  readonly retryAfter: number | undefined;
  /** The parsed body (JSON when it was JSON, else the text). */
  readonly body: unknown;

  constructor(message: string, status: number, headers: Headers, body: unknown) {
    super(message);
    this.name = "PitalyaError";
    this.status = status;
    this.requestId = headers.get("x-request-id") ?? undefined;
    this.retryAfter = parseRetryAfter(headers.get("retry-after"));
    this.body = body;
  }
}

/** An RFC 9457 problem document from the API; `code` says which refusal it is. */
export class PitalyaProblem extends PitalyaError {
  readonly code: ProblemCode;
  readonly detail: string;
  /** `VALIDATION_FAILED`: every invalid field; empty otherwise. */
  readonly errors: FieldError[];
  /** The whole document, with the extension members some codes carry (`lines`, `cart`, `available`, ...). */
  readonly problem: Problem;

  constructor(status: number, headers: Headers, problem: Problem) {
    super(`${problem.code}: ${problem.detail}`, status, headers, problem);
    this.name = "PitalyaProblem";
    this.code = problem.code;
    this.detail = problem.detail;
    this.errors = problem.errors ?? [];
    this.problem = problem;
    // The document repeats the request id; prefer the header, fall back to the body.
    if (this.requestId === undefined && problem.requestId !== undefined) {
      (this as { requestId: string | undefined }).requestId = problem.requestId;
    }
  }
}

/** True when `err` is a problem document, and (given codes) one of those codes. */
export function isProblem<C extends ProblemCode>(
  err: unknown,
  ...codes: C[]
): err is PitalyaProblem & { readonly code: C } {
  return err instanceof PitalyaProblem && (codes.length === 0 || (codes as ProblemCode[]).includes(err.code));
}

function parseRetryAfter(value: string | null): number | undefined {
  if (value === null || value.trim() === "") return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, Math.ceil(seconds));
  const at = Date.parse(value); // the HTTP-date form
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - Date.now()) / 1000));
}

function looksLikeProblem(body: unknown): body is Problem {
  if (typeof body !== "object" || body === null) return false;
  const b = body as Record<string, unknown>;
  return typeof b.code === "string" && typeof b.status === "number" && typeof b.detail === "string";
}

/** The error a non-2xx response becomes. */
export function toPitalyaError(response: Response, body: unknown): PitalyaError {
  if (looksLikeProblem(body)) return new PitalyaProblem(response.status, response.headers, body);
  const message =
    typeof body === "object" && body !== null && typeof (body as { message?: unknown }).message === "string"
      ? (body as { message: string }).message
      : `HTTP ${response.status}`;
  return new PitalyaError(message, response.status, response.headers, body);
}

type Outcome<D> = { data?: D; error?: unknown; response: Response };

/** The data of a 2xx answer; anything else is thrown as a PitalyaError / PitalyaProblem. */
async function unwrap<D>(pending: Promise<Outcome<D>>): Promise<D> {
  const { data, error, response } = await pending;
  if (!response.ok) throw toPitalyaError(response, error);
  return data as D;
}

/** The query parameters of an operation, by operationId. */
type Query<Op extends keyof operations> = NonNullable<operations[Op]["parameters"]["query"]>;

export function createPitalyaClient(options: PitalyaClientOptions) {
  const raw: Client<paths> = createClient<paths>({
    baseUrl: options.baseUrl.replace(/\/+$/, ""),
    ...(options.fetch ? { fetch: options.fetch } : {}),
    ...(options.headers ? { headers: options.headers } : {}),
  });

  const { getToken } = options;
  if (getToken) {
    const auth: Middleware = {
      async onRequest({ request }) {
        const token = await getToken();
        if (token) request.headers.set("Authorization", `Bearer ${token}`);
        return request;
      },
    };
    raw.use(auth);
  }

  return {
    /** The typed openapi-fetch client (same auth), for the routes without a method here. */
    raw,

    // --- catalog (public) ---
    listProducts: (query: Query<"listProducts"> = {}) => unwrap(raw.GET("/products", { params: { query } })),
    getProduct: (slug: string) => unwrap(raw.GET("/products/{slug}", { params: { path: { slug } } })),

    // --- cart (signed in) ---
    getCart: () => unwrap(raw.GET("/cart")),
    addToCart: (body: Schemas["AddToCartRequest"]) => unwrap(raw.POST("/cart/add", { body })),
    updateCartItem: (body: Schemas["UpdateCartItemRequest"]) => unwrap(raw.POST("/cart/update", { body })),
    removeFromCart: (body: Schemas["RemoveFromCartRequest"]) => unwrap(raw.POST("/cart/remove", { body })),
    clearCart: () => unwrap(raw.DELETE("/cart/clear")),

    // --- checkout ---
    /** A quote only: nothing is reserved; pass the code again to createOrder. */
    applyCoupon: (code: string) => unwrap(raw.POST("/checkout/apply-coupon", { body: { code } })),
    /** 201 for a new order, 200 for the order an earlier request with the same key made. */
    createOrder: (body: CreateOrderRequest, { idempotencyKey }: IdempotentCall) =>
      unwrap(raw.POST("/orders/create", { params: { header: { "Idempotency-Key": idempotencyKey } }, body })),
    listMyOrders: (query: Query<"listMyOrders"> = {}) => unwrap(raw.GET("/orders/my", { params: { query } })),
    /** By 24-hex id or by order number (`PIT-1001`). */
    getOrder: (idOrNumber: string) => unwrap(raw.GET("/orders/{id}", { params: { path: { id: idOrNumber } } })),

    /** The order's GST invoice; `404 INVOICE_NOT_FOUND` until the owner ships it. */
    getInvoice: (idOrNumber: string) =>
      unwrap(raw.GET("/orders/{id}/invoice", { params: { path: { id: idOrNumber } } })),
    /** The same invoice as the PDF the customer was mailed. */
    getInvoicePdf: (idOrNumber: string) =>
      unwrap(raw.GET("/orders/{id}/invoice.pdf", { params: { path: { id: idOrNumber } }, parseAs: "blob" })),

    // --- payment ---
    /** Starts a PhonePe attempt; send the browser to `redirectUrl`, then poll getOrder. */
    initiatePhonePePayment: (orderId: string) =>
      unwrap(raw.POST("/payments/phonepe/initiate", { body: { orderId } })),

    // --- owner (admin token) ---
    /** `paid` → `packed`. */
    packOrder: (idOrNumber: string) => unwrap(raw.POST("/admin/orders/{id}/pack", { params: { path: { id: idOrNumber } } })),
    /** `paid` or `packed` → `shipped`; issues the GST invoice. */
    shipOrder: (idOrNumber: string, body: ShipOrderRequest) =>
      unwrap(raw.POST("/admin/orders/{id}/ship", { params: { path: { id: idOrNumber } }, body })),
    /** Any customer's order, with its payment attempts, mails, invoice and credit notes. */
    getOrderDetail: (idOrNumber: string) =>
      unwrap(raw.GET("/admin/orders/{id}", { params: { path: { id: idOrNumber } } })),
    /** Any order's invoice, with the credit notes issued against it. */
    getOrderInvoice: (idOrNumber: string) =>
      unwrap(raw.GET("/admin/orders/{id}/invoice", { params: { path: { id: idOrNumber } } })),
    refundOrder: (orderId: string, body: RefundOrderRequest, { idempotencyKey }: IdempotentCall) =>
      unwrap(
        raw.POST("/admin/orders/{id}/refund", {
          params: { path: { id: orderId }, header: { "Idempotency-Key": idempotencyKey } },
          body,
        }),
      ),
  };
}

export type PitalyaClient = ReturnType<typeof createPitalyaClient>;
