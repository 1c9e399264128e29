// @ts-check
// Orders: the fulfilment queue, search, one order in full with the owner's actions, refunds,
// and the accountant's CSV. What the owner may do to an order is the order's own
// `allowedActions`, decided by the API's state machine; the carriers and statuses the forms
// offer are the API's too (`GET /admin/meta`).
import { PAGE_SIZE, Problem, call, download, localProblem, meta, newKey, saveBlob } from './api.js';
import {
  actionButton, badge, cards, h, notice, onSubmit, pagedList, problemBox, section, setNav, show,
} from './dom.js';
import { gstLabel, istDate, label, parsePaise, rupees, when, words } from './format.js';

/** @typedef {import('./api.js').AdminOrder} AdminOrder */
/** @typedef {import('./api.js').Order} Order */
/** @typedef {import('./api.js').OrderDetail} OrderDetail */
/** @typedef {import('./api.js').OwnerAction} OwnerAction */
/** @typedef {import('./api.js').OrderStatus} OrderStatus */
/** @typedef {import('./api.js').Schemas['RefundOrderRequest']} RefundRequest */
/** @typedef {import('./api.js').Schemas['RefundPreview']} RefundPreview */
/** @typedef {(o: Order) => Promise<unknown>} Done */

/** @param {AdminOrder} order
 * @param {OwnerAction} action */
const allows = (order, action) => order.allowedActions.includes(action);

/** @param {Order} o */
function customerOf(o) {
  const a = o.shipping.address;
  return [a.name || o.email, a.city && a.pincode ? `${a.city} ${a.pincode}` : (a.city || '')].filter(Boolean).join(' · ');
}

/** "Kuber Brass Urli — 8 in / Antique", as the contract names a variant to people; a
 * product sold as one variant is its name alone.
 * @param {Order['items'][number]} i */
function itemName(i) {
  return i.variantTitle && i.variantTitle !== 'Default' ? `${i.name} — ${i.variantTitle}` : i.name;
}

/** @param {Order} o */
function itemsOf(o) {
  return o.items.map((i) => `${i.quantity}× ${itemName(i)}`).join(', ');
}

/** @param {AdminOrder} order
 * @param {Done} done */
function shipForm(order, done) {
  const other = h('input', { name: 'otherCarrier', placeholder: 'carrier name', hidden: true, 'aria-label': 'Other carrier' });
  const select = h('select', { name: 'carrier', 'aria-label': 'Carrier' },
    h('option', { value: '' }, 'Carrier…'),
    meta().carriers.map((c) => h('option', { value: c }, c)),
    h('option', { value: '__other' }, 'Other…'));
  select.addEventListener('change', () => { other.hidden = select.value !== '__other'; });
  const form = h('form', { class: 'inline ship-form', dataset: { order: order.id } },
    select, other,
    h('input', { name: 'trackingNumber', placeholder: 'tracking number', 'aria-label': 'Tracking number', autocomplete: 'off' }),
    h('input', { name: 'description', placeholder: 'note (optional)', 'aria-label': 'Note' }),
    h('button', { type: 'submit', class: 'primary' }, 'Ship'));
  return onSubmit(form, async (fd) => {
    const carrier = fd.get('carrier') === '__other' ? String(fd.get('otherCarrier') || '') : String(fd.get('carrier') || '');
    /** @type {import('./api.js').Schemas['ShipOrderRequest']} */
    const body = { carrier, trackingNumber: String(fd.get('trackingNumber') || '') };
    const d = String(fd.get('description') || '').trim();
    if (d) body.description = d;
    const o = await call('post', '/admin/orders/{id}/ship', { path: { id: order.id }, body });
    notice(`Order ${o.number} shipped with ${o.shipping.carrier} (${o.shipping.trackingNumber})`);
    await done(o);
  });
}

/** The steps that take no fields: their route, button and what the notice says after. */
const STEPS = /** @type {const} */ ({
  pack: { route: '/admin/orders/{id}/pack', button: 'Pack', done: 'packed' },
  deliver: { route: '/admin/orders/{id}/deliver', button: 'Delivered', done: 'delivered' },
});

/** @param {AdminOrder} order
 * @param {keyof STEPS} step
 * @param {Done} done
 * @param {HTMLElement} slot */
function stepButton(order, step, done, slot) {
  const { route, button, done: said } = STEPS[step];
  return actionButton(button, async () => {
    const o = await call('post', route, { path: { id: order.id }, body: {} });
    notice(`Order ${o.number} ${said}`);
    await done(o);
  }, { slot, cls: step });
}

/** The buttons for the steps the order may take next: pack, ship, delivered.
 * @param {AdminOrder} order
 * @param {Done} done
 * @param {HTMLElement} slot */
function orderActions(order, done, slot) {
  return [
    allows(order, 'pack') ? stepButton(order, 'pack', done, slot) : null,
    allows(order, 'ship') ? shipForm(order, done) : null,
    allows(order, 'deliver') ? stepButton(order, 'deliver', done, slot) : null,
  ];
}

/** @param {AdminOrder[]} orders
 * @param {{ withActions?: boolean, reload: Done }} options */
function orderTable(orders, { withActions = false, reload }) {
  const rows = orders.map((o) => {
    const slot = h('div');
    const open = () => viewOrder(o.id);
    return h('tr', { dataset: { order: o.id, number: o.number, status: o.status } },
      h('td', {}, h('a', { href: '#', on: { click: (/** @type {Event} */ e) => { e.preventDefault(); open(); } } }, o.number)),
      h('td', {}, when(o.createdAt)),
      h('td', {}, customerOf(o), h('div', { class: 'muted' }, o.email)),
      h('td', {}, itemsOf(o)),
      h('td', { class: 'num' }, rupees(o.total)),
      h('td', {}, badge(o.status)),
      withActions ? h('td', { class: 'wide-cell' }, h('div', { class: 'actions' }, orderActions(o, reload, slot)), slot) : null);
  });
  return cards(h('table', { class: 'orders' },
    h('thead', {}, h('tr', {},
      h('th', {}, 'Order'), h('th', {}, 'Placed'), h('th', {}, 'Customer'), h('th', {}, 'Items'),
      h('th', { class: 'num' }, 'Total'), h('th', {}, 'Status'), withActions ? h('th', {}, 'Next step') : null)),
    h('tbody', {}, rows)));
}

export async function viewQueue() {
  setNav('queue');
  const reload = async () => { await viewQueue(); };
  const queue = pagedList(
    (cursor) => call('get', '/admin/orders', { query: { status: ['paid', 'packed'], sort: 'oldest', limit: PAGE_SIZE, cursor } }),
    (items) => orderTable(items, { withActions: true, reload }),
    'Nothing to pack or ship.');
  const transit = pagedList(
    (cursor) => call('get', '/admin/orders', { query: { status: ['shipped'], sort: 'oldest', limit: PAGE_SIZE, cursor } }),
    (items) => orderTable(items, { withActions: true, reload }),
    'Nothing in transit.');
  show(h('section', { id: 'queue' },
    h('h2', {}, 'Fulfilment queue ', h('span', { class: 'muted' }, '(paid and packed, oldest first)')),
    queue.node,
    h('h3', {}, 'In transit ', h('span', { class: 'muted' }, '(shipped, oldest first)')),
    transit.node));
  await Promise.all([queue.load(), transit.load()]);
}

/** The statuses as a select's options, `chosen` selected.
 * @param {string} [chosen] */
function statusOptions(chosen) {
  return meta().orderStatuses.map((s) => h('option', { value: s, selected: chosen === s }, words(s)));
}

/** @param {{ q?: string, status?: string }} [initial] */
export function viewOrders(initial = {}) {
  setNav('orders');
  const results = h('div');
  const form = h('form', { class: 'inline card', id: 'order-search' },
    h('label', {}, 'Search', h('input', { name: 'q', value: initial.q || '', size: 32, placeholder: 'number, e-mail, phone, name, tracking or PhonePe id' })),
    h('label', {}, 'Status', h('select', { name: 'status' }, h('option', { value: '' }, 'any'), statusOptions(initial.status))),
    h('label', {}, 'From', h('input', { type: 'date', name: 'from' })),
    h('label', {}, 'To', h('input', { type: 'date', name: 'to' })),
    h('label', {}, 'Sort', h('select', { name: 'sort' }, h('option', { value: 'newest' }, 'newest first'), h('option', { value: 'oldest' }, 'oldest first'))),
    h('button', { type: 'submit', class: 'primary' }, 'Search'));
  onSubmit(form, async (fd) => {
    // The status is one of the select's options, which are the API's own statuses.
    const status = /** @type {OrderStatus | ''} */ (String(fd.get('status') || ''));
    const query = {
      q: String(fd.get('q') || '').trim(), status: status ? [status] : undefined,
      sort: fd.get('sort') === 'oldest' ? /** @type {const} */ ('oldest') : /** @type {const} */ ('newest'),
      from: istDate(fd.get('from'), false), to: istDate(fd.get('to'), true), limit: PAGE_SIZE,
    };
    const list = pagedList(
      (cursor) => call('get', '/admin/orders', { query: { ...query, cursor } }),
      (items) => orderTable(items, { reload: async () => form.requestSubmit() }),
      'No orders match.');
    results.replaceChildren(list.node);
    await list.load();
  });
  show(h('section', {}, h('h2', {}, 'Orders'), form, results));
  form.requestSubmit();
}

// Generic, readable rendering of whatever the API returns, so nothing in an order is hidden.
const MONEY_KEY = /^(amount|total|subtotal|discount|shippingFee|price|unitPrice|lineTotal|refundedAmount|taxable|taxableValue|cgst|sgst|igst|cess|tax)$|(Amount|Total|Paise|Value|Tax)$/;
// GST rates travel in basis points (1800 = 18 %).
const RATE_KEY = /^(rate|gstRate)$/;
const TIME_KEY = /(At|^at)$/;

/** @param {string} key
 * @param {unknown} v
 * @returns {Node | string} */
function valueNode(key, v) {
  if (v == null) return h('span', { class: 'muted' }, '—');
  if (typeof v === 'number' && Number.isInteger(v) && MONEY_KEY.test(key)) return rupees(v);
  if (typeof v === 'number' && Number.isInteger(v) && RATE_KEY.test(key)) return gstLabel(v);
  if (typeof v === 'string' && TIME_KEY.test(key)) return when(v);
  if (typeof v === 'string' && /^https:\/\//.test(v)) return h('a', { href: v, target: '_blank', rel: 'noopener noreferrer' }, v);
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  if (Array.isArray(v)) return arrayNode(v);
  if (typeof v === 'object') return kv(/** @type {Record<string, unknown>} */ (v));
  // An address's `state` is a region; a payment's or refund's is a machine word.
  if (key === 'status' || (key === 'state' && /^([a-z_]+|[A-Z_]+)$/.test(String(v)))) return badge(String(v));
  return String(v);
}

/** @param {object} obj */
function kv(obj) {
  return h('dl', { class: 'kv' }, Object.entries(obj).map(([k, v]) => [h('dt', {}, label(k)), h('dd', {}, valueNode(k, v))]));
}

/** @param {readonly unknown[]} arr
 * @returns {Node | string} */
function arrayNode(arr) {
  if (!arr.length) return h('span', { class: 'muted' }, 'none');
  /** @type {(x: unknown) => x is Record<string, unknown>} */
  const isRecord = (x) => !!x && typeof x === 'object' && !Array.isArray(x);
  if (arr.every(isRecord)) {
    const cols = [...new Set(arr.flatMap((x) => Object.keys(x)))];
    return cards(h('table', {}, h('thead', {}, h('tr', {}, cols.map((c) => h('th', {}, label(c))))),
      h('tbody', {}, arr.map((x) => h('tr', {}, cols.map((c) => h('td', { class: typeof x[c] === 'number' ? 'num' : '' }, valueNode(c, x[c]))))))));
  }
  return arr.map((x) => String(x)).join(', ');
}

/** A button that downloads one of the order's GST documents as the customer got it.
 * @param {string} text
 * @param {string} path
 * @param {string} number
 * @param {HTMLElement} slot */
function pdfButton(text, path, number, slot) {
  // The server's file name: the number with its slashes as dashes (PIT-2627-000001.pdf).
  const name = `${String(number).replaceAll('/', '-')}.pdf`;
  return actionButton(text, async () => {
    saveBlob(await download(path), name);
    notice(`${name} is downloading`);
  }, { slot, cls: 'pdf' });
}

/** @param {OrderDetail} o */
function invoiceSection(o) {
  if (!o.invoice) return section('Invoice', h('span', { class: 'muted' }, 'not issued (an order is invoiced when it ships)'));
  const slot = h('div');
  return section('Invoice',
    h('div', { class: 'actions' }, pdfButton(`Invoice ${o.invoice.number} (PDF)`, `/admin/orders/${encodeURIComponent(o.id)}/invoice.pdf`, o.invoice.number, slot)),
    slot,
    // The whole document is long (seller, buyer, every line's tax): folded until asked for.
    h('details', {}, h('summary', {}, `Every field of invoice ${o.invoice.number}`), valueNode('invoice', o.invoice)));
}

/** @param {OrderDetail} o */
function creditNotesSection(o) {
  const notes = o.creditNotes;
  const slot = h('div');
  return section('Credit notes',
    arrayNode(notes.map(({ pdf: _pdf, ...rest }) => rest)),
    notes.length ? h('div', { class: 'actions' }, notes.map((n) => pdfButton(`Credit note ${n.number} (PDF)`, n.pdf, n.number, slot))) : null,
    slot);
}

/** @param {OrderDetail} order
 * @param {Done} done */
function refundForm(order, done) {
  // One key per confirmed refund: a resubmission after the API did not answer reuses it, so
  // a retried refund cannot pay twice; any answer, or a changed form, starts a new one.
  /** @type {{ text: string, key: string } | null} */
  let pending = null;
  // What the owner was shown and confirms: the body and the amount the API previewed for it.
  /** @type {{ text: string, sent: RefundRequest, amount: number } | null} */
  let reviewed = null;
  // One field per variant bought: two sizes of one product are two lines, refunded apart.
  const lines = order.items.map((i) => h('label', {}, `${itemName(i)} (${i.quantity} bought)`,
    h('input', { type: 'number', min: 0, max: i.quantity, step: 1, value: 0, name: `line:${i.variantId}`, dataset: { product: i.productId, variant: i.variantId } })));
  const amountField = h('label', { class: 'refund-amount' }, 'Amount (₹)', h('input', { name: 'amount', inputmode: 'decimal', placeholder: '499.00' }));
  const linesField = h('div', { class: 'refund-lines' }, lines);
  const restockField = h('label', { class: 'check' }, h('input', { type: 'checkbox', name: 'restock' }), 'Return the refunded units to stock');
  const previewBox = h('p', { class: 'refund-preview', 'aria-live': 'polite' });
  const confirmBox = h('div', { class: 'refund-confirm', role: 'alert', hidden: true });
  // No mode is chosen for the owner: refunding everything is a choice, never a default.
  const form = h('form', { class: 'refund-form' },
    h('fieldset', { class: 'refund-mode' }, h('legend', {}, 'What to refund'),
      h('label', { class: 'check' }, h('input', { type: 'radio', name: 'mode', value: 'lines' }), 'Units of some lines'),
      h('label', { class: 'check' }, h('input', { type: 'radio', name: 'mode', value: 'amount' }), 'An amount'),
      h('label', { class: 'check' }, h('input', { type: 'radio', name: 'mode', value: 'full' }), 'Everything not yet refunded')),
    linesField, restockField, amountField,
    h('label', { class: 'wide' }, 'Reason (kept on the order and told to the customer)', h('input', { name: 'reason', size: 60 })),
    previewBox,
    h('div', { class: 'actions' }, h('button', { type: 'submit', name: 'review', class: 'primary' }, 'Review refund')),
    confirmBox);

  /** The refund the form describes, as the API takes it; throws a local problem if unfinished.
   * @param {FormData} fd
   * @returns {RefundRequest} */
  function bodyOf(fd) {
    /** @type {RefundRequest} */
    const body = { restock: false, reason: String(fd.get('reason') || '') };
    const mode = fd.get('mode');
    if (!mode) throw localProblem('mode', 'choose what to refund');
    if (mode === 'amount') {
      try { body.amount = parsePaise(fd.get('amount'), { allowZero: false }); } catch (e) { throw localProblem('amount', e instanceof Error ? e.message : String(e)); }
    } else if (mode === 'lines') {
      body.restock = fd.get('restock') === 'on';
      const chosen = [];
      for (const input of form.querySelectorAll('input[data-product]')) {
        if (!(input instanceof HTMLInputElement)) continue;
        const q = Number(input.value);
        if (!Number.isInteger(q) || q < 0) throw localProblem(input.name, 'must be a whole number of units');
        if (q > 0) chosen.push({ productId: input.dataset['product'] || '', variantId: input.dataset['variant'] || '', quantity: q });
      }
      if (!chosen.length) throw localProblem('lines', 'name at least one unit to refund');
      body.lines = chosen;
    }
    return body;
  }

  // The amount comes from the API, which decides it exactly as the refund will (each line at
  // its price after its share of the discount), so the page holds no money rules of its own.
  /** @param {{ amount?: number, lines?: RefundRequest['lines'] }} body */
  const previewOf = ({ amount, lines: l }) => call('post', '/admin/orders/{id}/refund/preview', { path: { id: order.id }, body: { amount, lines: l } });
  /** @param {RefundPreview} p */
  const amountText = (p) => ['This refunds ', h('strong', {}, rupees(p.amount)), ` of the ${rupees(p.refundable)} still refundable.`];
  let asked = 0;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer;
  async function showPreview() {
    const mine = ++asked;
    let body = null;
    let unfinished = null;
    try { body = bodyOf(new FormData(form)); } catch (e) {
      const field = e instanceof Problem && e.problem.errors ? e.problem.errors[0]?.field : undefined;
      unfinished = field === 'mode' ? 'Choose what to refund' : 'Fill in what to refund';
    }
    try {
      // An unfinished form still shows what is left to refund: the preview of "everything".
      const p = await previewOf(body || {});
      if (mine !== asked) return;
      previewBox.replaceChildren(...(unfinished
        ? [h('span', { class: 'muted' }, `${unfinished}: ${rupees(p.refundable)} is still refundable.`)]
        : amountText(p)));
    } catch (e) {
      if (mine === asked) previewBox.replaceChildren(problemBox(e));
    }
  }
  function changed() {
    const mode = new FormData(form).get('mode');
    linesField.hidden = mode !== 'lines';
    restockField.hidden = mode !== 'lines';
    amountField.hidden = mode !== 'amount';
    // Any change voids what was reviewed: the owner confirms only what they were shown.
    reviewed = null;
    confirmBox.hidden = true;
    confirmBox.replaceChildren();
    clearTimeout(timer);
    timer = setTimeout(showPreview, 250);
  }
  form.addEventListener('input', changed);
  form.addEventListener('change', changed);
  changed();

  return onSubmit(form, async (fd, submitter) => {
    const body = bodyOf(fd);
    const text = JSON.stringify(body);
    if (!(submitter && submitter.name === 'confirm' && reviewed && reviewed.text === text)) {
      // The review step: ask the API what this refund comes to and wait for a second press.
      // A refusal shows once, where the form shows its problems.
      clearTimeout(timer);
      asked++;
      previewBox.replaceChildren();
      const p = await previewOf(body);
      previewBox.replaceChildren(...amountText(p));
      // "Everything" is sent as the amount shown, so a refund recorded meanwhile cannot make
      // this one give back something other than what the owner confirmed.
      const sent = fd.get('mode') === 'full' ? { ...body, amount: p.amount } : body;
      reviewed = { text, sent, amount: p.amount };
      confirmBox.replaceChildren(
        h('p', {}, `Refund ${rupees(p.amount)} of order ${order.number} to the customer through PhonePe${body.restock ? ', returning the units to stock' : ''}? This cannot be undone.`),
        h('div', { class: 'actions' }, h('button', { type: 'submit', name: 'confirm', class: 'danger' }, `Confirm refund of ${rupees(p.amount)}`)));
      confirmBox.hidden = false;
      return;
    }
    const confirmed = reviewed;
    const sentText = JSON.stringify(confirmed.sent);
    if (!pending || pending.text !== sentText) pending = { text: sentText, key: newKey() };
    let o;
    try {
      o = await call('post', '/admin/orders/{id}/refund', { path: { id: order.id }, body: confirmed.sent, idempotencyKey: pending.key });
    } catch (e) {
      if (!(e instanceof Problem && e.network)) { pending = null; reviewed = null; confirmBox.hidden = true; }
      throw e;
    }
    pending = null;
    const recorded = o.refunds.at(-1);
    notice(`Refund of ${rupees(recorded ? recorded.amount : confirmed.amount)} recorded on ${o.number}; it is sent to PhonePe in the background`);
    await done(o);
  });
}

/** @param {OrderDetail} order
 * @param {Done} done */
function cancelForm(order, done) {
  const form = h('form', { class: 'inline cancel-form' },
    h('label', {}, 'Reason (optional)', h('input', { name: 'reason', size: 40 })),
    h('button', { type: 'submit', class: 'danger' }, 'Cancel order'));
  return onSubmit(form, async (fd) => {
    if (!window.confirm(`Cancel order ${order.number}? Stock and the coupon use are given back; a paid order is refunded in full.`)) return;
    const reason = String(fd.get('reason') || '').trim();
    const o = await call('post', '/admin/orders/{id}/cancel', { path: { id: order.id }, body: reason ? { reason } : {} });
    notice(`Order ${o.number} cancelled`);
    await done(o);
  });
}

/** @param {string} id */
export async function viewOrder(id) {
  setNav('orders');
  show(h('p', { class: 'muted' }, 'Loading the order…'));
  const o = await call('get', '/admin/orders/{id}', { path: { id } });
  const reload = () => viewOrder(o.id);
  const slot = h('div');
  const { address, ...ship } = o.shipping;
  const shown = new Set(['id', 'number', 'status', 'createdAt', 'updatedAt', 'email', 'userId', 'items', 'subtotal', 'discount',
    'shippingFee', 'total', 'tax', 'couponCode', 'currency', 'statusHistory', 'payment', 'shipping', 'refunds', 'notes',
    'attempts', 'mails', 'invoice', 'creditNotes', 'allowedActions']);
  const rest = Object.fromEntries(Object.entries(o).filter(([k]) => !shown.has(k)));
  show(h('section', { id: 'order', dataset: { order: o.id, status: o.status } },
    h('p', {}, h('a', { href: '#', on: { click: (/** @type {Event} */ e) => { e.preventDefault(); viewOrders(); } } }, '← Orders')),
    h('h2', {}, `Order ${o.number} `, badge(o.status)),
    h('p', { class: 'muted' }, `Placed ${when(o.createdAt)} · updated ${when(o.updatedAt)} · id `, h('code', {}, o.id)),
    h('div', { class: 'card' }, h('div', { class: 'actions' }, orderActions(o, reload, slot)), slot,
      allows(o, 'cancel') ? cancelForm(o, reload) : null),
    h('div', { class: 'grid2' },
      section('Customer', kv({ email: o.email, userId: o.userId, notes: o.notes ?? null })),
      section('Ship to', kv(address))),
    section('Items', arrayNode(o.items)),
    h('div', { class: 'grid2' },
      section('Amounts', kv({ subtotal: o.subtotal, discount: o.discount, couponCode: o.couponCode ?? null, shippingFee: o.shippingFee, total: o.total, currency: o.currency })),
      section('Payment', kv(o.payment))),
    o.tax ? section('Tax', valueNode('taxDetail', o.tax)) : null,
    section('Shipping', Object.keys(ship).length ? kv(ship) : h('span', { class: 'muted' }, 'not shipped yet')),
    section('Status history', arrayNode(o.statusHistory)),
    section('Refunds', arrayNode(o.refunds), allows(o, 'refund') ? h('h3', {}, 'New refund') : null, allows(o, 'refund') ? refundForm(o, reload) : null),
    section('Payment attempts', arrayNode(o.attempts)),
    section('Mails', arrayNode(o.mails)),
    invoiceSection(o),
    creditNotesSection(o),
    Object.keys(rest).length ? section('Other fields', kv(rest)) : null));
}

export function viewExport() {
  setNav('export');
  const form = h('form', { class: 'inline card' },
    h('label', {}, 'From', h('input', { type: 'date', name: 'from' })),
    h('label', {}, 'To', h('input', { type: 'date', name: 'to' })),
    h('label', {}, 'Status', h('select', { name: 'status' }, h('option', { value: '' }, 'any'), statusOptions())),
    h('button', { type: 'submit', class: 'primary' }, 'Download CSV'));
  onSubmit(form, async (fd) => {
    const from = String(fd.get('from') || ''), to = String(fd.get('to') || '');
    const blob = await download('/admin/orders/export.csv', { from: istDate(from, false), to: istDate(to, true), status: fd.get('status') });
    saveBlob(blob, `pitalya-orders${from ? `-${from}` : ''}${to ? `-to-${to}` : ''}.csv`);
    notice('The CSV is downloading');
  });
  show(h('section', { id: 'export' }, h('h2', {}, 'Orders as CSV'),
    h('p', { class: 'muted' }, 'One row per order, for the accountant: its amounts, GST (empty for orders never paid), payment, refunds, invoice number and shipment. Dates are India time.'), form));
}

