// @ts-check
// The admin API, typed by the schema generated from openapi.yaml (clients/typescript): each
// call names its documented route, so its body and its answer have that route's types.

/** @typedef {import('../../../../clients/typescript/src/schema').paths} Paths */
/** @typedef {import('../../../../clients/typescript/src/schema').components['schemas']} Schemas */
/** @typedef {Schemas['AdminOrder']} AdminOrder */
/** @typedef {Schemas['Order']} Order */
/** @typedef {Schemas['OrderDetail']} OrderDetail */
/** @typedef {Schemas['OrderStatus']} OrderStatus */
/** @typedef {Schemas['OwnerAction']} OwnerAction */
/** @typedef {Schemas['AdminMeta']} AdminMeta */
/** @typedef {Schemas['AdminProduct']} AdminProduct */
/** @typedef {Schemas['StockMovement']} StockMovement */
/** @typedef {Schemas['Variant']} Variant */
/** @typedef {Schemas['ProductOption']} ProductOption */
/** @typedef {Schemas['Coupon']} Coupon */
/** @typedef {Schemas['GstRate']} GstRate */
/** @typedef {Schemas['FieldError']} FieldError */
/** @typedef {Schemas['ProblemLine']} ProblemLine */

/**
 * A problem as the page shows it: the API's (RFC 9457), or one made in the browser for a
 * network failure or a form checked before sending, which has no status or title.
 * @typedef {{ code?: string, detail?: string, title?: string, requestId?: string,
 *   errors?: FieldError[], lines?: ProblemLine[] }} ProblemShape
 */

/** @typedef {'get' | 'post' | 'patch'} Method */

/** How many rows a list asks for at a time. */
export const PAGE_SIZE = 50;

/**
 * The JSON a documented operation answers with when it succeeds (200 or 201).
 * @template {keyof Paths} P
 * @template {Method} M
 * @typedef {Paths[P][M] extends { responses: infer R }
 *   ? (R extends { 200: { content: { 'application/json': infer J } } } ? J
 *     : R extends { 201: { content: { 'application/json': infer J } } } ? J : never)
 *   : never} Answer
 */

/**
 * The JSON body a documented operation takes.
 * @template {keyof Paths} P
 * @template {Method} M
 * @typedef {Paths[P][M] extends { requestBody: { content: { 'application/json': infer B } } } ? B
 *   : Paths[P][M] extends { requestBody?: { content: { 'application/json': infer B } } } ? B : never} Body
 */

/**
 * The query a documented operation takes, plus the pager's cursor.
 * @template {keyof Paths} P
 * @template {Method} M
 * @typedef {Paths[P][M] extends { parameters: { query?: infer Q } } ? Q : never} Query
 */

export class Problem extends Error {
  /** @param {ProblemShape} problem
   * @param {{ network?: boolean, status?: number }} [options] */
  constructor(problem, { network = false, status = 0 } = {}) {
    super(problem.detail || problem.title || 'Something went wrong');
    this.problem = problem;
    this.network = network;
    this.status = status;
  }
}

/** A problem made in the browser, shaped like the API's, for forms checked before sending.
 * @param {string} field
 * @param {string} message */
export function localProblem(field, message) {
  return new Problem({ code: 'VALIDATION_FAILED', detail: 'Check the highlighted fields', errors: [{ field, message }] });
}

/** @type {() => Promise<string>} */
let tokenSource = async () => { throw new Problem({ code: 'UNAUTHENTICATED', detail: 'You are not signed in' }); };

/** Where every call gets the owner's token from: a token in memory, or Clerk's session.
 * @param {() => Promise<string>} source */
export function useTokenFrom(source) { tokenSource = source; }

/** @param {string} method
 * @param {string} path
 * @param {{ body?: unknown, file?: { data: Blob, type: string }, idempotencyKey?: string, blob?: boolean }} [options]
 * @returns {Promise<unknown>} */
async function request(method, path, { body, file, idempotencyKey, blob = false } = {}) {
  /** @type {Record<string, string>} */
  const headers = { authorization: `Bearer ${await tokenSource()}`, accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (file) headers['content-type'] = file.type;
  if (idempotencyKey) headers['idempotency-key'] = idempotencyKey;
  let res;
  try {
    // Same origin only; cookies are neither needed nor sent.
    res = await fetch(path, {
      method, headers, body: file ? file.data : body === undefined ? null : JSON.stringify(body),
      cache: 'no-store', credentials: 'omit', redirect: 'error',
    });
  } catch (e) {
    throw new Problem({ code: 'NETWORK', detail: `The API did not answer (${e instanceof Error ? e.message : String(e)}). Nothing is known to have changed; try again.` }, { network: true });
  }
  if (blob && res.ok) return res.blob();
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (_) { data = null; }
  if (!res.ok) {
    const problem = data && typeof data === 'object' && !Array.isArray(data)
      ? /** @type {ProblemShape} */ (data)
      : { code: `HTTP_${res.status}`, detail: `The API answered ${res.status} ${res.statusText}` };
    throw new Problem(problem, { status: res.status });
  }
  return data;
}

/** `?a=1&b=2` of the parameters that have a value.
 * @param {Record<string, unknown>} params */
function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v != null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}

/**
 * Calls the operation documented at `route` (openapi.yaml's path, with `{name}`s filled
 * from `path`), typed by the schema.
 * @template {keyof Paths} P
 * @template {Method} M
 * @param {M} method
 * @param {P} route
 * @param {{ path?: Record<string, string>, query?: Query<P, M> & { cursor?: string | undefined },
 *   body?: Body<P, M>, idempotencyKey?: string }} [options]
 * @returns {Promise<Answer<P, M>>}
 */
export async function call(method, route, options = {}) {
  const params = options.path || {};
  const path = String(route).replace(/\{(\w+)\}/g, (_, name) => encodeURIComponent(params[name] ?? ''));
  const data = await request(method.toUpperCase(), path + query(options.query || {}), {
    body: options.body, idempotencyKey: options.idempotencyKey,
  });
  return /** @type {Answer<P, M>} */ (data);
}

/**
 * Sends a file as the whole body of the operation documented at `route` (an import's CSV),
 * typed by the schema like `call`.
 * @template {keyof Paths} P
 * @param {'post'} method
 * @param {P} route
 * @param {{ data: Blob, type: string }} file
 * @param {{ query?: Query<P, 'post'> }} [options]
 * @returns {Promise<Answer<P, 'post'>>}
 */
export async function upload(method, route, file, options = {}) {
  const data = await request(method.toUpperCase(), String(route) + query(options.query || {}), { file });
  return /** @type {Answer<P, 'post'>} */ (data);
}

/** A file behind the API (a PDF, the CSV), fetched with the token.
 * @param {string} path
 * @param {Record<string, unknown>} [params] */
export async function download(path, params = {}) {
  return /** @type {Blob} */ (await request('GET', path + query(params), { blob: true }));
}

/** @type {Promise<AdminMeta> | null} */
let metaAsked = null;
/** @type {AdminMeta | null} */
let metaKnown = null;

/** Asks the API, once, for what the forms choose from (carriers, GST rates, statuses); a
 * failure is asked again next time. */
export async function loadMeta() {
  if (!metaAsked) {
    metaAsked = call('get', '/admin/meta').catch((e) => { metaAsked = null; throw e; });
  }
  metaKnown = await metaAsked;
  return metaKnown;
}

/** The carriers, GST rates and statuses, once `loadMeta` has them: every view runs after. */
export function meta() {
  if (!metaKnown) throw new Problem({ code: 'NOT_LOADED', detail: 'The console has not loaded the shop\'s settings yet; try again.' });
  return metaKnown;
}

/** Hands a fetched file to the browser as a download. Files behind the API need the token,
 * which a plain link cannot carry, so the page fetches them and saves the blob.
 * @param {Blob} blob
 * @param {string} name */
export function saveBlob(blob, name) {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

/** A fresh Idempotency-Key. */
export function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
}
