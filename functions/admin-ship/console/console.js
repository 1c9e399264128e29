// The owner console. Plain browser JavaScript, no build step and no dependencies: the page's
// CSP allows scripts from this origin (and Clerk's Frontend API) only, so nothing here may
// be inline, and every piece of data is put into the page as text, never as markup.
'use strict';
(() => {
  // Read while this script runs: the nonce is hidden from the DOM afterwards.
  const NONCE = (document.currentScript && document.currentScript.nonce) || '';

  const CARRIERS = ['Delhivery', 'Blue Dart', 'DTDC', 'India Post', 'Ekart', 'Xpressbees', 'Shadowfax', 'Ecom Express'];
  const STATUSES = ['created', 'payment_pending', 'paid', 'packed', 'shipped', 'delivered', 'cancelled'];
  const GST_RATES = [0, 500, 1200, 1800, 2800, 4000];
  const PAGE_SIZE = 50;

  // ---------------------------------------------------------------------------------------
  // Money: integer paise in, integer paise out; rupees typed by the owner are parsed as text
  // so that "19.99" is 1999 paise and never 1998.9999.
  // ---------------------------------------------------------------------------------------

  function groupIndian(digits) {
    if (digits.length <= 3) return digits;
    const last3 = digits.slice(-3);
    let rest = digits.slice(0, -3);
    const parts = [];
    while (rest.length > 2) { parts.unshift(rest.slice(-2)); rest = rest.slice(0, -2); }
    if (rest) parts.unshift(rest);
    return parts.join(',') + ',' + last3;
  }

  function rupees(paise) {
    if (typeof paise !== 'number' || !Number.isInteger(paise)) return paise == null ? '—' : String(paise);
    const sign = paise < 0 ? '−' : '';
    const abs = Math.abs(paise);
    const whole = Math.floor(abs / 100).toString();
    const frac = (abs % 100).toString().padStart(2, '0');
    return `${sign}₹${groupIndian(whole)}.${frac}`;
  }

  /** "1,299.5" or "₹1299.50" → 129950; throws a message for anything else. */
  function parsePaise(text, { allowZero = true } = {}) {
    const s = String(text).trim().replace(/^₹\s*/, '').replace(/,/g, '');
    const m = /^(\d{1,12})(?:\.(\d{1,2}))?$/.exec(s);
    if (!m) throw new Error('must be an amount in rupees such as 1299 or 1299.50');
    const paise = Number(m[1]) * 100 + Number((m[2] || '').padEnd(2, '0'));
    if (!allowZero && paise === 0) throw new Error('must be more than ₹0');
    return paise;
  }

  function paiseToInput(paise) {
    if (typeof paise !== 'number') return '';
    return `${Math.floor(paise / 100)}.${String(paise % 100).padStart(2, '0')}`;
  }

  function when(iso) {
    if (!iso) return '—';
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return String(iso);
    return d.toLocaleString('en-IN', { timeZone: 'Asia/Kolkata', dateStyle: 'medium', timeStyle: 'short' }) + ' IST';
  }

  // ---------------------------------------------------------------------------------------
  // DOM
  // ---------------------------------------------------------------------------------------

  /** h('button', {class: 'primary', on: {click}}, 'Pack') — children are text or nodes. */
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v == null || v === false) continue;
      if (k === 'on') for (const [ev, fn] of Object.entries(v)) el.addEventListener(ev, fn);
      else if (k === 'class') el.className = v;
      else if (k === 'dataset') Object.assign(el.dataset, v);
      else if (k === 'value') el.value = v;
      else if (k === 'checked') el.checked = !!v;
      else if (k === 'selected') el.selected = !!v;
      else el.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children.flat(Infinity)) {
      if (c == null || c === false) continue;
      el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return el;
  }

  const main = () => document.getElementById('main');
  function show(...nodes) { main().replaceChildren(...nodes); window.scrollTo(0, 0); }

  function flash(node) {
    const f = document.getElementById('flash');
    f.replaceChildren(node);
    f.hidden = false;
  }
  function clearFlash() { const f = document.getElementById('flash'); f.hidden = true; f.replaceChildren(); }
  const notice = (text) => flash(h('div', { class: 'notice' }, text));

  function badge(status) { return h('span', { class: `badge ${status}` }, String(status).replaceAll('_', ' ')); }

  /** Labels every cell with its column's heading, so that on a phone, where console.css shows
   * each row as a card instead of a table too wide for the screen, each value keeps its name
   * beside it. A cell's content is wrapped in one box, to stand in one place beside the name. */
  function cards(table) {
    const heads = [...table.querySelectorAll(':scope > thead > tr > th')].map((th) => th.textContent);
    for (const tr of table.querySelectorAll(':scope > tbody > tr')) {
      [...tr.children].forEach((td, i) => {
        td.dataset.label = heads[i] || '';
        if (td.dataset.label && td.childNodes.length && !td.classList.contains('wide-cell')) td.replaceChildren(h('div', {}, [...td.childNodes]));
      });
    }
    table.classList.add('cards');
    return table;
  }

  // ---------------------------------------------------------------------------------------
  // The API
  // ---------------------------------------------------------------------------------------

  class Problem extends Error {
    constructor(problem, { network = false, status = 0 } = {}) {
      super(problem.detail || problem.title || 'Something went wrong');
      this.problem = problem;
      this.network = network;
      this.status = status;
    }
  }

  /** A problem made in the browser, shaped like the API's, for forms checked before sending. */
  function localProblem(field, message) {
    return new Problem({ code: 'VALIDATION_FAILED', detail: 'Check the highlighted fields', errors: [{ field, message }] });
  }

  let getToken = async () => { throw new Problem({ code: 'UNAUTHENTICATED', detail: 'You are not signed in' }); };
  let signOut = null;

  async function api(method, path, { body, idempotencyKey, blob = false } = {}) {
    const headers = { authorization: `Bearer ${await getToken()}`, accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (idempotencyKey) headers['idempotency-key'] = idempotencyKey;
    let res;
    try {
      // Same origin only; cookies are neither needed nor sent.
      res = await fetch(path, {
        method, headers, body: body === undefined ? undefined : JSON.stringify(body),
        cache: 'no-store', credentials: 'omit', redirect: 'error',
      });
    } catch (e) {
      throw new Problem({ code: 'NETWORK', detail: `The API did not answer (${e.message}). Nothing is known to have changed; try again.` }, { network: true });
    }
    if (blob && res.ok) return res.blob();
    const text = await res.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (_) { data = null; }
    if (!res.ok) {
      const problem = data && typeof data === 'object' && !Array.isArray(data)
        ? data
        : { code: `HTTP_${res.status}`, detail: `The API answered ${res.status} ${res.statusText}` };
      throw new Problem(problem, { status: res.status });
    }
    return data;
  }

  /** Hands a fetched file to the browser as a download. Files behind the API need the token,
   * which a plain link cannot carry, so the page fetches them and saves the blob. */
  function saveBlob(blob, name) {
    const url = URL.createObjectURL(blob);
    const a = h('a', { href: url, download: name });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  }

  function query(params) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v != null && v !== '') q.set(k, v);
    const s = q.toString();
    return s ? `?${s}` : '';
  }

  /** The problem's detail, its code and every field error, as the page shows them. */
  function problemBox(err) {
    const p = err instanceof Problem ? err.problem : { detail: err && err.message ? err.message : String(err) };
    const fields = Array.isArray(p.errors) ? p.errors : [];
    return h('div', { class: 'problem', role: 'alert', dataset: { code: p.code || '' } },
      h('strong', {}, p.detail || p.title || 'Something went wrong'),
      p.code ? h('span', { class: 'muted' }, ` (${p.code}${p.requestId ? `, request ${p.requestId}` : ''})`) : null,
      fields.length && !(fields.length === 1 && p.detail === `${fields[0].field}: ${fields[0].message}`) ? h('ul', {}, fields.map((e) => h('li', {}, h('code', {}, e.field), ': ', e.message))) : null,
      Array.isArray(p.lines) && p.lines.length
        ? h('ul', {}, p.lines.map((l) => h('li', {}, `${l.name || l.productId}: ${l.requested ?? ''} asked, ${l.available ?? ''} available`)))
        : null);
  }

  function markFields(form, err) {
    const fields = err instanceof Problem && Array.isArray(err.problem.errors) ? err.problem.errors : [];
    for (const { field } of fields) {
      const base = String(field).split(/[.[]/)[0];
      for (const name of [field, base]) {
        const el = form.querySelector(`[name="${CSS.escape(name)}"]`);
        if (el) { el.classList.add('error-field'); break; }
      }
    }
  }

  /** Runs `fn(form data, the button pressed)` on submit with the buttons disabled, showing any
   * problem in the form. */
  function onSubmit(form, fn) {
    const slot = h('div', { class: 'slot' });
    form.append(slot);
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      slot.replaceChildren();
      form.querySelectorAll('.error-field').forEach((e) => e.classList.remove('error-field'));
      const buttons = [...form.querySelectorAll('button')];
      buttons.forEach((b) => { b.disabled = true; });
      try {
        await fn(new FormData(form), ev.submitter);
      } catch (e) {
        slot.replaceChildren(problemBox(e));
        markFields(form, e);
      } finally {
        buttons.forEach((b) => { b.disabled = false; });
      }
    });
    return form;
  }

  /** A button that runs `fn`, shows its problem in `slot` (or the flash) and then `after`. */
  function actionButton(label, fn, { cls = '', slot = null, confirmText = null } = {}) {
    const b = h('button', { type: 'button', class: cls });
    b.textContent = label;
    b.addEventListener('click', async () => {
      if (confirmText && !window.confirm(confirmText)) return;
      b.disabled = true;
      if (slot) slot.replaceChildren(); else clearFlash();
      try { await fn(); } catch (e) {
        if (slot) slot.replaceChildren(problemBox(e)); else flash(problemBox(e));
      } finally { b.disabled = false; }
    });
    return b;
  }

  function newKey() {
    if (crypto.randomUUID) return crypto.randomUUID();
    const b = crypto.getRandomValues(new Uint8Array(16));
    return [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  }

  // ---------------------------------------------------------------------------------------
  // Orders: the fulfilment queue, search, detail and the owner's actions
  // ---------------------------------------------------------------------------------------

  const act = (order, action, body = {}) => api('POST', `/admin/orders/${encodeURIComponent(order.id)}/${action}`, { body });

  function customerOf(o) {
    const a = (o.shipping && o.shipping.address) || {};
    return [a.name || o.email, a.city && a.pincode ? `${a.city} ${a.pincode}` : (a.city || '')].filter(Boolean).join(' · ');
  }

  function itemsOf(o) {
    const items = o.items || [];
    return items.map((i) => `${i.quantity}× ${i.name}`).join(', ');
  }

  function shipForm(order, done) {
    const other = h('input', { name: 'otherCarrier', placeholder: 'carrier name', hidden: true, 'aria-label': 'Other carrier' });
    const select = h('select', { name: 'carrier', 'aria-label': 'Carrier' },
      h('option', { value: '' }, 'Carrier…'),
      CARRIERS.map((c) => h('option', { value: c }, c)),
      h('option', { value: '__other' }, 'Other…'));
    select.addEventListener('change', () => { other.hidden = select.value !== '__other'; });
    const form = h('form', { class: 'inline ship-form', dataset: { order: order.id } },
      select, other,
      h('input', { name: 'trackingNumber', placeholder: 'tracking number', 'aria-label': 'Tracking number', autocomplete: 'off' }),
      h('input', { name: 'description', placeholder: 'note (optional)', 'aria-label': 'Note' }),
      h('button', { type: 'submit', class: 'primary' }, 'Ship'));
    return onSubmit(form, async (fd) => {
      const carrier = fd.get('carrier') === '__other' ? String(fd.get('otherCarrier') || '') : String(fd.get('carrier') || '');
      const body = { carrier, trackingNumber: String(fd.get('trackingNumber') || '') };
      const d = String(fd.get('description') || '').trim();
      if (d) body.description = d;
      const o = await act(order, 'ship', body);
      notice(`Order ${o.number} shipped with ${o.shipping.carrier} (${o.shipping.trackingNumber})`);
      await done(o);
    });
  }

  function orderActions(order, done, slot) {
    const s = order.status;
    const out = [];
    if (s === 'paid') {
      out.push(actionButton('Pack', async () => {
        const o = await act(order, 'pack');
        notice(`Order ${o.number} packed`);
        await done(o);
      }, { slot, cls: 'pack' }));
    }
    if (s === 'paid' || s === 'packed') out.push(shipForm(order, done));
    if (s === 'shipped') {
      out.push(actionButton('Delivered', async () => {
        const o = await act(order, 'deliver');
        notice(`Order ${o.number} delivered`);
        await done(o);
      }, { slot, cls: 'deliver' }));
    }
    return out;
  }

  function orderTable(orders, { withActions = false, reload }) {
    const rows = orders.map((o) => {
      const slot = h('div');
      const open = () => viewOrder(o.id);
      return h('tr', { dataset: { order: o.id, number: o.number, status: o.status } },
        h('td', {}, h('a', { href: '#', on: { click: (e) => { e.preventDefault(); open(); } } }, o.number)),
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

  /** A list with "Load more" over `nextCursor`. */
  function pagedList(fetchPage, render, emptyText) {
    const box = h('div');
    const more = h('div', { class: 'pager' });
    let items = [];
    async function load(cursor) {
      const page = await fetchPage(cursor);
      items = cursor ? items.concat(page.items) : page.items;
      box.replaceChildren(items.length ? render(items) : h('p', { class: 'muted' }, emptyText));
      more.replaceChildren(page.nextCursor
        ? actionButton('Load more', () => load(page.nextCursor), { slot: box })
        : []);
    }
    return { node: h('div', {}, box, more), load };
  }

  async function viewQueue() {
    setNav('queue');
    const reload = async () => { await viewQueue(); };
    const queue = pagedList(
      (cursor) => api('GET', `/admin/orders${query({ status: 'paid,packed', sort: 'oldest', limit: PAGE_SIZE, cursor })}`),
      (items) => orderTable(items, { withActions: true, reload }),
      'Nothing to pack or ship.');
    const transit = pagedList(
      (cursor) => api('GET', `/admin/orders${query({ status: 'shipped', sort: 'oldest', limit: PAGE_SIZE, cursor })}`),
      (items) => orderTable(items, { withActions: true, reload }),
      'Nothing in transit.');
    show(h('section', { id: 'queue' },
      h('h2', {}, 'Fulfilment queue ', h('span', { class: 'muted' }, '(paid and packed, oldest first)')),
      queue.node,
      h('h3', {}, 'In transit ', h('span', { class: 'muted' }, '(shipped, oldest first)')),
      transit.node));
    await Promise.all([queue.load(), transit.load()]);
  }

  function istDate(date, endOfDay) {
    if (!date) return '';
    return `${date}T${endOfDay ? '23:59:59' : '00:00:00'}+05:30`;
  }

  function viewOrders(initial = {}) {
    setNav('orders');
    const results = h('div');
    const form = h('form', { class: 'inline card', id: 'order-search' },
      h('label', {}, 'Search', h('input', { name: 'q', value: initial.q || '', size: 32, placeholder: 'number, e-mail, phone, name, tracking or PhonePe id' })),
      h('label', {}, 'Status', h('select', { name: 'status' }, h('option', { value: '' }, 'any'),
        STATUSES.map((s) => h('option', { value: s, selected: initial.status === s }, s.replaceAll('_', ' '))))),
      h('label', {}, 'From', h('input', { type: 'date', name: 'from' })),
      h('label', {}, 'To', h('input', { type: 'date', name: 'to' })),
      h('label', {}, 'Sort', h('select', { name: 'sort' }, h('option', { value: 'newest' }, 'newest first'), h('option', { value: 'oldest' }, 'oldest first'))),
      h('button', { type: 'submit', class: 'primary' }, 'Search'));
    onSubmit(form, async (fd) => {
      const params = {
        q: String(fd.get('q') || '').trim(), status: fd.get('status'), sort: fd.get('sort'),
        from: istDate(fd.get('from'), false), to: istDate(fd.get('to'), true), limit: PAGE_SIZE,
      };
      const list = pagedList(
        (cursor) => api('GET', `/admin/orders${query({ ...params, cursor })}`),
        (items) => orderTable(items, { reload: () => form.requestSubmit() }),
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

  function label(key) { return String(key).replace(/([a-z])([A-Z])/g, '$1 $2').replace(/^./, (c) => c.toUpperCase()); }

  function valueNode(key, v) {
    if (v == null) return h('span', { class: 'muted' }, '—');
    if (typeof v === 'number' && Number.isInteger(v) && MONEY_KEY.test(key)) return rupees(v);
    if (typeof v === 'number' && Number.isInteger(v) && RATE_KEY.test(key)) return gstLabel(v);
    if (typeof v === 'string' && TIME_KEY.test(key)) return when(v);
    if (typeof v === 'string' && /^https:\/\//.test(v)) return h('a', { href: v, target: '_blank', rel: 'noopener noreferrer' }, v);
    if (typeof v === 'boolean') return v ? 'yes' : 'no';
    if (Array.isArray(v)) return arrayNode(v);
    if (typeof v === 'object') return kv(v);
    // An address's `state` is a region; a payment's or refund's is a machine word.
    if (key === 'status' || (key === 'state' && /^([a-z_]+|[A-Z_]+)$/.test(v))) return badge(v);
    return String(v);
  }

  function kv(obj, keys) {
    const ks = keys || Object.keys(obj);
    return h('dl', { class: 'kv' }, ks.filter((k) => k in obj).map((k) => [h('dt', {}, label(k)), h('dd', {}, valueNode(k, obj[k]))]));
  }

  function arrayNode(arr) {
    if (!arr.length) return h('span', { class: 'muted' }, 'none');
    if (arr.every((x) => x && typeof x === 'object' && !Array.isArray(x))) {
      const cols = [...new Set(arr.flatMap((x) => Object.keys(x)))];
      return cards(h('table', {}, h('thead', {}, h('tr', {}, cols.map((c) => h('th', {}, label(c))))),
        h('tbody', {}, arr.map((x) => h('tr', {}, cols.map((c) => h('td', { class: typeof x[c] === 'number' ? 'num' : '' }, valueNode(c, x[c]))))))));
    }
    return arr.map((x) => String(x)).join(', ');
  }

  function section(title, ...body) { return h('div', { class: 'card' }, h('h3', {}, title), ...body); }

  /** A button that downloads one of the order's GST documents as the customer got it. */
  function pdfButton(text, path, number, slot) {
    // The server's file name: the number with its slashes as dashes (PIT-2627-000001.pdf).
    const name = `${String(number).replaceAll('/', '-')}.pdf`;
    return actionButton(text, async () => {
      saveBlob(await api('GET', path, { blob: true }), name);
      notice(`${name} is downloading`);
    }, { slot, cls: 'pdf' });
  }

  function invoiceSection(o) {
    if (!o.invoice) return section('Invoice', h('span', { class: 'muted' }, 'not issued (an order is invoiced when it ships)'));
    const slot = h('div');
    return section('Invoice',
      h('div', { class: 'actions' }, pdfButton(`Invoice ${o.invoice.number} (PDF)`, `/admin/orders/${encodeURIComponent(o.id)}/invoice.pdf`, o.invoice.number, slot)),
      slot,
      // The whole document is long (seller, buyer, every line's tax): folded until asked for.
      h('details', {}, h('summary', {}, `Every field of invoice ${o.invoice.number}`), valueNode('invoice', o.invoice)));
  }

  function creditNotesSection(o) {
    const notes = o.creditNotes || [];
    const slot = h('div');
    return section('Credit notes',
      arrayNode(notes.map(({ pdf, ...rest }) => rest)),
      notes.length ? h('div', { class: 'actions' }, notes.map((n) => pdfButton(`Credit note ${n.number} (PDF)`, n.pdf, n.number, slot))) : null,
      slot);
  }

  function refundForm(order, done) {
    // One key per confirmed refund: a resubmission after the API did not answer reuses it, so
    // a retried refund cannot pay twice; any answer, or a changed form, starts a new one.
    let pending = null;
    // What the owner was shown and confirms: the body and the amount the API previewed for it.
    let reviewed = null;
    const lines = (order.items || []).map((i) => h('label', {}, `${i.name} (${i.quantity} bought)`,
      h('input', { type: 'number', min: 0, max: i.quantity, step: 1, value: 0, name: `line:${i.productId}`, dataset: { product: i.productId } })));
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

    /** The refund the form describes, as the API takes it; throws a local problem if unfinished. */
    function bodyOf(fd) {
      const body = { restock: false, reason: String(fd.get('reason') || '') };
      const mode = fd.get('mode');
      if (!mode) throw localProblem('mode', 'choose what to refund');
      if (mode === 'amount') {
        try { body.amount = parsePaise(fd.get('amount'), { allowZero: false }); } catch (e) { throw localProblem('amount', e.message); }
      } else if (mode === 'lines') {
        body.restock = fd.get('restock') === 'on';
        body.lines = [];
        for (const input of form.querySelectorAll('input[data-product]')) {
          const q = Number(input.value);
          if (!Number.isInteger(q) || q < 0) throw localProblem(input.name, 'must be a whole number of units');
          if (q > 0) body.lines.push({ productId: input.dataset.product, quantity: q });
        }
        if (!body.lines.length) throw localProblem('lines', 'name at least one unit to refund');
      }
      return body;
    }

    // The amount comes from the API, which decides it exactly as the refund will (each line at
    // its price after its share of the discount), so the page holds no money rules of its own.
    const previewOf = ({ amount, lines: l }) => api('POST', `/admin/orders/${encodeURIComponent(order.id)}/refund/preview`, { body: { amount, lines: l } });
    const amountText = (p) => ['This refunds ', h('strong', {}, rupees(p.amount)), ` of the ${rupees(p.refundable)} still refundable.`];
    let asked = 0;
    let timer = null;
    async function showPreview() {
      const mine = ++asked;
      let body = null;
      let unfinished = null;
      try { body = bodyOf(new FormData(form)); } catch (e) {
        unfinished = e.problem.errors[0].field === 'mode' ? 'Choose what to refund' : 'Fill in what to refund';
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
      const sentText = JSON.stringify(reviewed.sent);
      if (!pending || pending.text !== sentText) pending = { text: sentText, key: newKey() };
      let o;
      try {
        o = await api('POST', `/admin/orders/${encodeURIComponent(order.id)}/refund`, { body: reviewed.sent, idempotencyKey: pending.key });
      } catch (e) {
        if (!(e instanceof Problem && e.network)) { pending = null; reviewed = null; confirmBox.hidden = true; }
        throw e;
      }
      pending = null;
      const recorded = (o.refunds || []).at(-1);
      notice(`Refund of ${rupees(recorded ? recorded.amount : reviewed.amount)} recorded on ${o.number}; it is sent to PhonePe in the background`);
      await done(o);
    });
  }

  function cancelForm(order, done) {
    const form = h('form', { class: 'inline cancel-form' },
      h('label', {}, 'Reason (optional)', h('input', { name: 'reason', size: 40 })),
      h('button', { type: 'submit', class: 'danger' }, 'Cancel order'));
    return onSubmit(form, async (fd) => {
      if (!window.confirm(`Cancel order ${order.number}? Stock and the coupon use are given back; a paid order is refunded in full.`)) return;
      const reason = String(fd.get('reason') || '').trim();
      const o = await act(order, 'cancel', reason ? { reason } : {});
      notice(`Order ${o.number} cancelled`);
      await done(o);
    });
  }

  async function viewOrder(id) {
    setNav('orders');
    show(h('p', { class: 'muted' }, 'Loading the order…'));
    const o = await api('GET', `/admin/orders/${encodeURIComponent(id)}`);
    const reload = () => viewOrder(o.id);
    const slot = h('div');
    const address = (o.shipping && o.shipping.address) || {};
    const ship = { ...(o.shipping || {}) };
    delete ship.address;
    const shown = new Set(['id', 'number', 'status', 'createdAt', 'updatedAt', 'email', 'userId', 'items', 'subtotal', 'discount',
      'shippingFee', 'total', 'tax', 'couponCode', 'currency', 'statusHistory', 'payment', 'shipping', 'refunds', 'notes',
      'attempts', 'mails', 'invoice', 'creditNotes']);
    const rest = Object.fromEntries(Object.entries(o).filter(([k]) => !shown.has(k)));
    const cancellable = ['created', 'payment_pending', 'paid', 'packed'].includes(o.status);
    const refundable = ['paid', 'packed', 'shipped', 'delivered', 'cancelled'].includes(o.status) && o.payment && o.payment.status !== 'pending';
    show(h('section', { id: 'order', dataset: { order: o.id, status: o.status } },
      h('p', {}, h('a', { href: '#', on: { click: (e) => { e.preventDefault(); viewOrders(); } } }, '← Orders')),
      h('h2', {}, `Order ${o.number} `, badge(o.status)),
      h('p', { class: 'muted' }, `Placed ${when(o.createdAt)} · updated ${when(o.updatedAt)} · id `, h('code', {}, o.id)),
      h('div', { class: 'card' }, h('div', { class: 'actions' }, orderActions(o, reload, slot)), slot,
        cancellable ? cancelForm(o, reload) : null),
      h('div', { class: 'grid2' },
        section('Customer', kv({ email: o.email, userId: o.userId, notes: o.notes ?? null })),
        section('Ship to', kv(address))),
      section('Items', arrayNode(o.items || [])),
      h('div', { class: 'grid2' },
        section('Amounts', kv({ subtotal: o.subtotal, discount: o.discount, couponCode: o.couponCode ?? null, shippingFee: o.shippingFee, total: o.total, currency: o.currency })),
        section('Payment', kv(o.payment || {}))),
      o.tax ? section('Tax', valueNode('taxDetail', o.tax)) : null,
      section('Shipping', Object.keys(ship).length ? kv(ship) : h('span', { class: 'muted' }, 'not shipped yet')),
      section('Status history', arrayNode(o.statusHistory || [])),
      section('Refunds', arrayNode(o.refunds || []), refundable ? h('h3', {}, 'New refund') : null, refundable ? refundForm(o, reload) : null),
      section('Payment attempts', arrayNode(o.attempts || [])),
      section('Mails', arrayNode(o.mails || [])),
      invoiceSection(o),
      creditNotesSection(o),
      Object.keys(rest).length ? section('Other fields', kv(rest)) : null));
  }

  // ---------------------------------------------------------------------------------------
  // Products and the stock ledger
  // ---------------------------------------------------------------------------------------

  function gstLabel(bps) { return bps == null ? '—' : `${bps / 100}%`; }

  function productForm(p, done) {
    const editing = !!p;
    const v = p || { isActive: true, gstRate: 1800 };
    const form = h('form', { class: 'card product-form' },
      h('h3', {}, editing ? `Edit ${v.name}` : 'New product'),
      h('label', {}, 'Name', h('input', { name: 'name', value: v.name || '', size: 36 })),
      editing ? null : h('label', {}, 'Slug', h('input', { name: 'slug', value: '', size: 28, placeholder: 'kuber-brass-urli' })),
      h('label', {}, 'Price (₹)', h('input', { name: 'price', inputmode: 'decimal', value: paiseToInput(v.price) })),
      editing ? null : h('label', {}, 'Opening stock', h('input', { name: 'stock', type: 'number', min: 0, step: 1, value: 0 })),
      h('label', {}, 'HSN', h('input', { name: 'hsn', value: v.hsn || '', size: 10 })),
      h('label', {}, 'GST', h('select', { name: 'gstRate' }, GST_RATES.map((r) => h('option', { value: r, selected: v.gstRate === r }, gstLabel(r))))),
      h('label', { class: 'check' }, h('input', { type: 'checkbox', name: 'isActive', checked: v.isActive }), 'Active (shown in the shop)'),
      h('label', { class: 'wide' }, 'Description', h('textarea', { name: 'description' }, v.description || '')),
      h('label', { class: 'wide' }, 'Image URLs, one a line', h('textarea', { name: 'images' }, (v.images || []).join('\n'))),
      h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, editing ? 'Save' : 'Create'),
        h('button', { type: 'button', on: { click: () => viewProducts() } }, 'Back')));
    return onSubmit(form, async (fd) => {
      let price;
      try { price = parsePaise(fd.get('price'), { allowZero: false }); } catch (e) { throw localProblem('price', e.message); }
      const body = {
        name: String(fd.get('name') || ''),
        price,
        hsn: String(fd.get('hsn') || ''),
        gstRate: Number(fd.get('gstRate')),
        isActive: fd.get('isActive') === 'on',
        description: String(fd.get('description') || ''),
        images: String(fd.get('images') || '').split('\n').map((s) => s.trim()).filter(Boolean),
      };
      let saved;
      if (editing) {
        // Only what changed, so a save cannot overwrite someone else's edit of another field.
        const patch = {};
        for (const [k, val] of Object.entries(body)) if (JSON.stringify(val) !== JSON.stringify(p[k] ?? (k === 'images' ? [] : ''))) patch[k] = val;
        if (!Object.keys(patch).length) { notice('Nothing changed'); return; }
        saved = await api('PATCH', `/admin/products/${encodeURIComponent(p.id)}`, { body: patch });
      } else {
        const stock = Number(fd.get('stock'));
        if (!Number.isInteger(stock) || stock < 0) throw localProblem('stock', 'must be a whole number, 0 or more');
        saved = await api('POST', '/admin/products', { body: { ...body, slug: String(fd.get('slug') || ''), stock } });
      }
      notice(`${saved.name} saved`);
      await done(saved);
    });
  }

  function stockForm(p, done) {
    const form = h('form', { class: 'inline stock-form' },
      h('label', {}, 'Change (+/− units)', h('input', { name: 'delta', type: 'number', step: 1, size: 6 })),
      h('label', {}, 'Reason', h('input', { name: 'reason', size: 30, placeholder: 'recount, damaged, new batch…' })),
      h('button', { type: 'submit' }, 'Adjust stock'));
    return onSubmit(form, async (fd) => {
      const raw = String(fd.get('delta') || '').trim();
      if (!/^[+-]?\d+$/.test(raw)) throw localProblem('delta', 'must be a whole number of units, such as 5 or -2');
      const r = await api('POST', `/admin/products/${encodeURIComponent(p.id)}/stock`, { body: { delta: Number(raw), reason: String(fd.get('reason') || '') } });
      notice(`${r.product.name}: stock is now ${r.product.stock}`);
      await done(r.product);
    });
  }

  async function viewProduct(p) {
    setNav('products');
    const ledger = pagedList(
      (cursor) => api('GET', `/admin/products/${encodeURIComponent(p.id)}/stock-movements${query({ limit: PAGE_SIZE, cursor })}`),
      (items) => cards(h('table', { class: 'ledger' },
        h('thead', {}, h('tr', {}, ['When', 'Change', 'Stock after', 'Reason', 'Order', 'By'].map((c) => h('th', {}, c)))),
        h('tbody', {}, items.map((m) => h('tr', {},
          h('td', {}, when(m.at)), h('td', { class: 'num' }, m.delta > 0 ? `+${m.delta}` : String(m.delta)),
          h('td', { class: 'num' }, String(m.stockAfter)), h('td', {}, m.reason),
          h('td', {}, m.orderId ? h('a', { href: '#', on: { click: (e) => { e.preventDefault(); viewOrder(m.orderId); } } }, m.orderId) : '—'),
          h('td', {}, m.by)))))),
      'No movements yet.');
    const reopen = (saved) => viewProduct(saved);
    show(h('section', { id: 'product', dataset: { product: p.id } },
      h('p', {}, h('a', { href: '#', on: { click: (e) => { e.preventDefault(); viewProducts(); } } }, '← Products')),
      h('h2', {}, p.name, ' ', h('span', { class: `badge ${p.isActive ? 'on' : 'off'}` }, p.isActive ? 'active' : 'inactive')),
      h('p', { class: 'muted' }, `${p.slug} · ${rupees(p.price)} · ${p.stock} in stock · GST ${gstLabel(p.gstRate)} · HSN ${p.hsn || '—'}`),
      h('div', { class: 'card' }, h('h3', {}, 'Stock'), stockForm(p, reopen)),
      productForm(p, reopen),
      h('div', { class: 'card' }, h('h3', {}, 'Stock ledger'), ledger.node)));
    await ledger.load();
  }

  async function setActive(p, isActive) {
    const saved = await api('PATCH', `/admin/products/${encodeURIComponent(p.id)}`, { body: { isActive } });
    notice(`${saved.name} is now ${saved.isActive ? 'active' : 'inactive'}`);
    return saved;
  }

  function viewProducts() {
    setNav('products');
    const results = h('div');
    const form = h('form', { class: 'inline card' },
      h('label', {}, 'Search', h('input', { name: 'q', size: 28, placeholder: 'name or slug' })),
      h('label', {}, 'Show', h('select', { name: 'isActive' }, h('option', { value: '' }, 'all'), h('option', { value: 'true' }, 'active'), h('option', { value: 'false' }, 'inactive'))),
      h('button', { type: 'submit', class: 'primary' }, 'Search'),
      h('button', { type: 'button', on: { click: () => show(productForm(null, viewProduct)) } }, 'New product'));
    onSubmit(form, async (fd) => {
      const params = { q: String(fd.get('q') || '').trim(), isActive: fd.get('isActive'), limit: PAGE_SIZE };
      const list = pagedList(
        (cursor) => api('GET', `/admin/products${query({ ...params, cursor })}`),
        (items) => cards(h('table', { class: 'products' },
          h('thead', {}, h('tr', {}, ['Product', 'Price', 'Stock', 'GST', 'Status', ''].map((c) => h('th', {}, c)))),
          h('tbody', {}, items.map((p) => {
            const slot = h('div');
            return h('tr', { dataset: { product: p.id } },
              h('td', {}, h('a', { href: '#', on: { click: (e) => { e.preventDefault(); viewProduct(p); } } }, p.name), h('div', { class: 'muted' }, p.slug)),
              h('td', { class: 'num' }, rupees(p.price)), h('td', { class: 'num' }, String(p.stock)),
              h('td', {}, gstLabel(p.gstRate)),
              h('td', {}, h('span', { class: `badge ${p.isActive ? 'on' : 'off'}` }, p.isActive ? 'active' : 'inactive')),
              h('td', {}, h('div', { class: 'actions' },
                actionButton('Edit / stock / ledger', async () => viewProduct(p), { slot }),
                actionButton(p.isActive ? 'Deactivate' : 'Activate', async () => { await setActive(p, !p.isActive); form.requestSubmit(); }, { slot })), slot));
          })))),
        'No products match.');
      results.replaceChildren(list.node);
      await list.load();
    });
    show(h('section', { id: 'products' }, h('h2', {}, 'Products'), form, results));
    form.requestSubmit();
  }

  // ---------------------------------------------------------------------------------------
  // Coupons
  // ---------------------------------------------------------------------------------------

  function couponValue(c) { return c.type === 'percent' ? `${c.value}%` : rupees(c.value); }

  /** Whether shoppers can use the coupon now, as checkout decides it: switched on, not past
   * its expiry and not used up. Each reason it cannot is its own badge. */
  function couponBadges(c) {
    const out = [];
    if (!c.isActive) out.push(h('span', { class: 'badge off' }, 'inactive'));
    if (c.expiresAt && !(new Date(c.expiresAt).getTime() > Date.now())) out.push(h('span', { class: 'badge expired' }, 'expired'));
    if (c.usageLimit != null && (c.usedCount ?? 0) >= c.usageLimit) out.push(h('span', { class: 'badge used-up' }, 'used up'));
    return out.length ? out : [h('span', { class: 'badge on' }, 'active')];
  }

  /** datetime-local (read as India time) → RFC 3339, and back. */
  function istToRfc(local) { return local ? `${local.length === 16 ? `${local}:00` : local}+05:30` : ''; }
  function rfcToIst(iso) {
    if (!iso) return '';
    const d = new Date(new Date(iso).getTime() + 5.5 * 3600 * 1000);
    return Number.isNaN(d.getTime()) ? '' : d.toISOString().slice(0, 16);
  }

  function couponForm(c, done) {
    const editing = !!c;
    const v = c || { type: 'percent', isActive: true };
    const optionalMoney = (name, paise) => h('input', { name, inputmode: 'decimal', value: paiseToInput(paise ?? undefined), placeholder: 'none' });
    const form = h('form', { class: 'card coupon-form' },
      h('h3', {}, editing ? `Edit ${v.code}` : 'New coupon'),
      editing ? null : h('label', {}, 'Code', h('input', { name: 'code', size: 14 })),
      h('label', {}, 'Type', h('select', { name: 'type' },
        h('option', { value: 'percent', selected: v.type === 'percent' }, 'percent off'),
        h('option', { value: 'flat', selected: v.type === 'flat' }, 'rupees off'))),
      h('label', {}, 'Value (% or ₹)', h('input', { name: 'value', inputmode: 'decimal', value: v.value == null ? '' : (v.type === 'flat' ? paiseToInput(v.value) : String(v.value)) })),
      h('label', {}, 'Minimum order (₹)', optionalMoney('minOrderValue', v.minOrderValue)),
      h('label', {}, 'Maximum discount (₹)', optionalMoney('maxDiscount', v.maxDiscount)),
      h('label', {}, 'Expires (India time)', h('input', { type: 'datetime-local', name: 'expiresAt', value: rfcToIst(v.expiresAt) })),
      h('label', {}, 'Usage limit', h('input', { type: 'number', min: 1, step: 1, name: 'usageLimit', value: v.usageLimit ?? '', placeholder: 'none' })),
      h('label', {}, 'Uses per customer', h('input', { type: 'number', min: 1, step: 1, name: 'perCustomerLimit', value: v.perCustomerLimit ?? '', placeholder: 'no limit' })),
      h('label', { class: 'check' }, h('input', { type: 'checkbox', name: 'isActive', checked: v.isActive }), 'Active'),
      h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, editing ? 'Save' : 'Create'),
        h('button', { type: 'button', on: { click: () => viewCoupons() } }, 'Back')));
    return onSubmit(form, async (fd) => {
      const type = String(fd.get('type'));
      const rawValue = String(fd.get('value') || '').trim();
      let value;
      if (type === 'flat') {
        try { value = parsePaise(rawValue, { allowZero: false }); } catch (e) { throw localProblem('value', e.message); }
      } else {
        if (!/^\d{1,3}$/.test(rawValue)) throw localProblem('value', 'must be a whole percentage such as 10');
        value = Number(rawValue);
      }
      const money = (name) => {
        const s = String(fd.get(name) || '').trim();
        if (!s) return null;
        try { return parsePaise(s); } catch (e) { throw localProblem(name, e.message); }
      };
      const count = (name) => {
        const s = String(fd.get(name) || '').trim();
        if (!s) return null;
        if (!/^\d+$/.test(s)) throw localProblem(name, 'must be a whole number');
        return Number(s);
      };
      const body = {
        type, value,
        minOrderValue: money('minOrderValue'),
        maxDiscount: money('maxDiscount'),
        expiresAt: istToRfc(String(fd.get('expiresAt') || '')) || null,
        usageLimit: count('usageLimit'),
        perCustomerLimit: count('perCustomerLimit'),
        isActive: fd.get('isActive') === 'on',
      };
      let saved;
      if (editing) {
        const patch = {};
        for (const [k, val] of Object.entries(body)) {
          const before = k === 'expiresAt' ? (c.expiresAt ? istToRfc(rfcToIst(c.expiresAt)) : null) : (c[k] ?? null);
          if (JSON.stringify(val) !== JSON.stringify(before)) patch[k] = val;
        }
        if (!Object.keys(patch).length) { notice('Nothing changed'); return; }
        saved = await api('PATCH', `/admin/coupons/${encodeURIComponent(c.code)}`, { body: patch });
      } else {
        const create = { code: String(fd.get('code') || ''), ...body };
        for (const k of Object.keys(create)) if (create[k] === null) delete create[k];
        saved = await api('POST', '/admin/coupons', { body: create });
      }
      notice(`Coupon ${saved.code} saved`);
      await done(saved);
    });
  }

  async function viewCoupons() {
    setNav('coupons');
    const list = pagedList(
      (cursor) => api('GET', `/admin/coupons${query({ limit: PAGE_SIZE, cursor })}`),
      (items) => cards(h('table', { class: 'coupons' },
        h('thead', {}, h('tr', {}, ['Code', 'Discount', 'Min. order', 'Max. discount', 'Expires', 'Used', 'Status', ''].map((c) => h('th', {}, c)))),
        h('tbody', {}, items.map((c) => {
          const slot = h('div');
          return h('tr', { dataset: { coupon: c.code } },
            h('td', {}, h('code', {}, c.code)), h('td', {}, couponValue(c)),
            h('td', { class: 'num' }, c.minOrderValue == null ? '—' : rupees(c.minOrderValue)),
            h('td', { class: 'num' }, c.maxDiscount == null ? '—' : rupees(c.maxDiscount)),
            h('td', {}, c.expiresAt ? when(c.expiresAt) : 'never'),
            h('td', { class: 'num' }, `${c.usedCount ?? 0}${c.usageLimit == null ? '' : ` / ${c.usageLimit}`}`),
            h('td', { class: 'coupon-state' }, couponBadges(c)),
            h('td', {}, h('div', { class: 'actions' },
              actionButton('Edit', async () => show(couponForm(c, () => viewCoupons())), { slot }),
              actionButton(c.isActive ? 'Deactivate' : 'Activate', async () => {
                const saved = await api('PATCH', `/admin/coupons/${encodeURIComponent(c.code)}`, { body: { isActive: !c.isActive } });
                notice(`Coupon ${saved.code} is now ${saved.isActive ? 'active' : 'inactive'}`);
                await viewCoupons();
              }, { slot })), slot));
        })))),
      'No coupons yet.');
    show(h('section', { id: 'coupons' }, h('h2', {}, 'Coupons'),
      h('p', {}, h('button', { type: 'button', class: 'primary', on: { click: () => show(couponForm(null, () => viewCoupons())) } }, 'New coupon')),
      list.node));
    await list.load();
  }

  // ---------------------------------------------------------------------------------------
  // CSV export
  // ---------------------------------------------------------------------------------------

  function viewExport() {
    setNav('export');
    const form = h('form', { class: 'inline card' },
      h('label', {}, 'From', h('input', { type: 'date', name: 'from' })),
      h('label', {}, 'To', h('input', { type: 'date', name: 'to' })),
      h('label', {}, 'Status', h('select', { name: 'status' }, h('option', { value: '' }, 'any'), STATUSES.map((s) => h('option', { value: s }, s.replaceAll('_', ' '))))),
      h('button', { type: 'submit', class: 'primary' }, 'Download CSV'));
    onSubmit(form, async (fd) => {
      const from = String(fd.get('from') || ''), to = String(fd.get('to') || '');
      const blob = await api('GET', `/admin/orders/export.csv${query({ from: istDate(from, false), to: istDate(to, true), status: fd.get('status') })}`, { blob: true });
      saveBlob(blob, `pitalya-orders${from ? `-${from}` : ''}${to ? `-to-${to}` : ''}.csv`);
      notice('The CSV is downloading');
    });
    show(h('section', { id: 'export' }, h('h2', {}, 'Orders as CSV'),
      h('p', { class: 'muted' }, 'One row per order, for the accountant: its amounts, GST (empty for orders never paid), payment, refunds, invoice number and shipment. Dates are India time.'), form));
  }

  // ---------------------------------------------------------------------------------------
  // Navigation and sign-in
  // ---------------------------------------------------------------------------------------

  const VIEWS = { queue: viewQueue, orders: () => viewOrders(), products: viewProducts, coupons: viewCoupons, export: viewExport };

  function setNav(name) {
    for (const b of document.querySelectorAll('#nav button')) b.classList.toggle('active', b.dataset.view === name);
  }

  async function run(view) {
    clearFlash();
    try { await view(); } catch (e) { flash(problemBox(e)); }
  }

  function startApp(who) {
    const nav = document.getElementById('nav');
    nav.hidden = false;
    for (const b of nav.querySelectorAll('button')) b.addEventListener('click', () => run(VIEWS[b.dataset.view]));
    const whoBox = document.getElementById('who');
    whoBox.replaceChildren(h('span', {}, who), signOut ? h('button', { type: 'button', on: { click: signOut } }, 'Sign out') : null);
    run(viewQueue);
  }

  function tokenForm(message) {
    const form = h('form', { class: 'card signin' },
      h('h2', {}, 'Sign in'),
      h('p', {}, message),
      h('label', { class: 'wide' }, 'Admin session token', h('input', { name: 'token', type: 'password', autocomplete: 'off' })),
      h('button', { type: 'submit', class: 'primary' }, 'Use this token'));
    return onSubmit(form, async (fd) => {
      const t = String(fd.get('token') || '').trim();
      if (!t) throw localProblem('token', 'is required');
      useDevToken(t);
    });
  }

  function useDevToken(t) {
    // Memory only: never a cookie, storage or the query string, so it ends with the tab.
    getToken = async () => t;
    signOut = () => { getToken = async () => { throw new Problem({ code: 'UNAUTHENTICATED', detail: 'You signed out' }); }; location.replace(location.pathname); };
    startApp('signed in with a token');
  }

  async function signInWithClerk(clerk) {
    try {
      await clerk.load({ nonce: NONCE || undefined });
    } catch (e) {
      show(problemBox(new Problem({ code: 'CLERK_UNAVAILABLE', detail: `Clerk's sign-in did not load: ${e.message}` })));
      return;
    }
    const started = () => {
      getToken = async () => {
        const t = clerk.session && await clerk.session.getToken();
        if (!t) throw new Problem({ code: 'UNAUTHENTICATED', detail: 'Your Clerk session has ended; sign in again' });
        return t;
      };
      signOut = async () => { await clerk.signOut(); location.replace(location.pathname); };
      const u = clerk.user;
      startApp((u && (u.primaryEmailAddress && u.primaryEmailAddress.emailAddress)) || (u && u.id) || 'signed in');
    };
    if (clerk.user && clerk.session) { started(); return; }
    const box = h('div', { class: 'signin' });
    show(box);
    // Virtual routing keeps Clerk's steps out of the URL fragment; after signing in, Clerk
    // comes back to this page instead of the site's root.
    clerk.mountSignIn(box, { routing: 'virtual', forceRedirectUrl: location.pathname, signUpForceRedirectUrl: location.pathname });
    let done = false;
    clerk.addListener((state) => {
      if (!done && state.user && state.session) { done = true; clerk.unmountSignIn(box); started(); }
    });
  }

  function init() {
    const params = new URLSearchParams(location.hash.slice(1));
    const fragmentToken = params.get('token');
    if (fragmentToken) {
      // Out of the address bar and the history entry at once, so it is not shared or kept.
      history.replaceState(null, '', location.pathname + location.search);
      useDevToken(fragmentToken);
      return;
    }
    const clerkTag = document.querySelector('script[data-clerk-publishable-key]');
    if (clerkTag) {
      if (window.Clerk) { signInWithClerk(window.Clerk); return; }
      show(problemBox(new Problem({ code: 'CLERK_UNAVAILABLE', detail: `Clerk's sign-in could not be loaded from ${new URL(clerkTag.src).origin}` })));
      return;
    }
    show(tokenForm('This console has no Clerk sign-in configured (CLERK_PUBLISHABLE_KEY). Open the link `make dev` prints, which carries an admin token after #token=, or paste one here.'));
  }

  init();
})();
