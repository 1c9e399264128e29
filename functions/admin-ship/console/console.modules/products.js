// @ts-check
// Products and the stock ledger. The GST rates a product may have are the API's
// (`GET /admin/meta`).
import { PAGE_SIZE, call, localProblem, meta } from './api.js';
import { actionButton, cards, h, notice, onSubmit, pagedList, setNav, show } from './dom.js';
import { gstLabel, paiseToInput, parsePaise, rupees, when } from './format.js';
import { viewOrder } from './orders.js';

/** @typedef {import('./api.js').AdminProduct} AdminProduct */
/** @typedef {import('./api.js').GstRate} GstRate */
/** @typedef {(p: AdminProduct) => Promise<unknown>} Done */

/** The rate a new product's form starts at: the standard rate on most goods. */
const USUAL_GST_RATE = 1800;

/** @param {AdminProduct | null} p
 * @param {Done} done */
function productForm(p, done) {
  const v = p || { isActive: true, gstRate: USUAL_GST_RATE };
  const name = p ? p.name : '';
  const form = h('form', { class: 'card product-form' },
    h('h3', {}, p ? `Edit ${p.name}` : 'New product'),
    h('label', {}, 'Name', h('input', { name: 'name', value: name, size: 36 })),
    p ? null : h('label', {}, 'Slug', h('input', { name: 'slug', value: '', size: 28, placeholder: 'kuber-brass-urli' })),
    h('label', {}, 'Price (₹)', h('input', { name: 'price', inputmode: 'decimal', value: paiseToInput(p && p.price) })),
    p ? null : h('label', {}, 'Opening stock', h('input', { name: 'stock', type: 'number', min: 0, step: 1, value: 0 })),
    h('label', {}, 'HSN', h('input', { name: 'hsn', value: (p && p.hsn) || '', size: 10 })),
    h('label', {}, 'GST', h('select', { name: 'gstRate' }, meta().gstRates.map((r) => h('option', { value: r, selected: v.gstRate === r }, gstLabel(r))))),
    h('label', { class: 'check' }, h('input', { type: 'checkbox', name: 'isActive', checked: v.isActive }), 'Active (shown in the shop)'),
    h('label', { class: 'wide' }, 'Description', h('textarea', { name: 'description' }, (p && p.description) || '')),
    h('label', { class: 'wide' }, 'Image URLs, one a line', h('textarea', { name: 'images' }, ((p && p.images) || []).join('\n'))),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, p ? 'Save' : 'Create'),
      h('button', { type: 'button', on: { click: () => viewProducts() } }, 'Back')));
  return onSubmit(form, async (fd) => {
    let price;
    try { price = parsePaise(fd.get('price'), { allowZero: false }); } catch (e) { throw localProblem('price', e instanceof Error ? e.message : String(e)); }
    const body = {
      name: String(fd.get('name') || ''),
      price,
      hsn: String(fd.get('hsn') || ''),
      // One of the select's options, which are the API's own rates.
      gstRate: /** @type {GstRate} */ (Number(fd.get('gstRate'))),
      isActive: fd.get('isActive') === 'on',
      description: String(fd.get('description') || ''),
      images: String(fd.get('images') || '').split('\n').map((s) => s.trim()).filter(Boolean),
    };
    let saved;
    if (p) {
      // Only what changed, so a save cannot overwrite someone else's edit of another field.
      /** @type {Record<string, unknown>} */
      const before = p;
      /** @type {import('./api.js').Schemas['UpdateProductRequest']} */
      const patch = {};
      for (const [k, val] of Object.entries(body)) {
        if (JSON.stringify(val) !== JSON.stringify(before[k] ?? (k === 'images' ? [] : ''))) Object.assign(patch, { [k]: val });
      }
      if (!Object.keys(patch).length) { notice('Nothing changed'); return; }
      saved = await call('patch', '/admin/products/{id}', { path: { id: p.id }, body: patch });
    } else {
      const stock = Number(fd.get('stock'));
      if (!Number.isInteger(stock) || stock < 0) throw localProblem('stock', 'must be a whole number, 0 or more');
      saved = await call('post', '/admin/products', { body: { ...body, slug: String(fd.get('slug') || ''), stock } });
    }
    notice(`${saved.name} saved`);
    await done(saved);
  });
}

/** @param {AdminProduct} p
 * @param {Done} done */
function stockForm(p, done) {
  const form = h('form', { class: 'inline stock-form' },
    h('label', {}, 'Change (+/− units)', h('input', { name: 'delta', type: 'number', step: 1, size: 6 })),
    h('label', {}, 'Reason', h('input', { name: 'reason', size: 30, placeholder: 'recount, damaged, new batch…' })),
    h('button', { type: 'submit' }, 'Adjust stock'));
  return onSubmit(form, async (fd) => {
    const raw = String(fd.get('delta') || '').trim();
    if (!/^[+-]?\d+$/.test(raw)) throw localProblem('delta', 'must be a whole number of units, such as 5 or -2');
    const r = await call('post', '/admin/products/{id}/stock', { path: { id: p.id }, body: { delta: Number(raw), reason: String(fd.get('reason') || '') } });
    notice(`${r.product.name}: stock is now ${r.product.stock}`);
    await done(r.product);
  });
}

/** @param {AdminProduct} p */
export async function viewProduct(p) {
  setNav('products');
  const ledger = pagedList(
    (cursor) => call('get', '/admin/products/{id}/stock-movements', { path: { id: p.id }, query: { limit: PAGE_SIZE, cursor } }),
    (items) => cards(h('table', { class: 'ledger' },
      h('thead', {}, h('tr', {}, ['When', 'Change', 'Stock after', 'Reason', 'Order', 'By'].map((c) => h('th', {}, c)))),
      h('tbody', {}, items.map((m) => h('tr', {},
        h('td', {}, when(m.at)), h('td', { class: 'num' }, m.delta > 0 ? `+${m.delta}` : String(m.delta)),
        h('td', { class: 'num' }, String(m.stockAfter)), h('td', {}, m.reason),
        h('td', {}, m.orderId ? h('a', { href: '#', on: { click: (/** @type {Event} */ e) => { e.preventDefault(); if (m.orderId) viewOrder(m.orderId); } } }, m.orderId) : '—'),
        h('td', {}, m.by)))))),
    'No movements yet.');
  /** @param {AdminProduct} saved */
  const reopen = (saved) => viewProduct(saved);
  show(h('section', { id: 'product', dataset: { product: p.id } },
    h('p', {}, h('a', { href: '#', on: { click: (/** @type {Event} */ e) => { e.preventDefault(); viewProducts(); } } }, '← Products')),
    h('h2', {}, p.name, ' ', h('span', { class: `badge ${p.isActive ? 'on' : 'off'}` }, p.isActive ? 'active' : 'inactive')),
    h('p', { class: 'muted' }, `${p.slug} · ${rupees(p.price)} · ${p.stock} in stock · GST ${gstLabel(p.gstRate)} · HSN ${p.hsn || '—'}`),
    h('div', { class: 'card' }, h('h3', {}, 'Stock'), stockForm(p, reopen)),
    productForm(p, reopen),
    h('div', { class: 'card' }, h('h3', {}, 'Stock ledger'), ledger.node)));
  await ledger.load();
}

/** @param {AdminProduct} p
 * @param {boolean} isActive */
async function setActive(p, isActive) {
  const saved = await call('patch', '/admin/products/{id}', { path: { id: p.id }, body: { isActive } });
  notice(`${saved.name} is now ${saved.isActive ? 'active' : 'inactive'}`);
  return saved;
}

export function viewProducts() {
  setNav('products');
  const results = h('div');
  const form = h('form', { class: 'inline card' },
    h('label', {}, 'Search', h('input', { name: 'q', size: 28, placeholder: 'name or slug' })),
    h('label', {}, 'Show', h('select', { name: 'isActive' }, h('option', { value: '' }, 'all'), h('option', { value: 'true' }, 'active'), h('option', { value: 'false' }, 'inactive'))),
    h('button', { type: 'submit', class: 'primary' }, 'Search'),
    h('button', { type: 'button', on: { click: () => show(productForm(null, viewProduct)) } }, 'New product'));
  onSubmit(form, async (fd) => {
    const shown = fd.get('isActive');
    const query = { q: String(fd.get('q') || '').trim(), isActive: shown ? shown === 'true' : undefined, limit: PAGE_SIZE };
    const list = pagedList(
      (cursor) => call('get', '/admin/products', { query: { ...query, cursor } }),
      (items) => cards(h('table', { class: 'products' },
        h('thead', {}, h('tr', {}, ['Product', 'Price', 'Stock', 'GST', 'Status', ''].map((c) => h('th', {}, c)))),
        h('tbody', {}, items.map((p) => {
          const slot = h('div');
          return h('tr', { dataset: { product: p.id } },
            h('td', {}, h('a', { href: '#', on: { click: (/** @type {Event} */ e) => { e.preventDefault(); viewProduct(p); } } }, p.name), h('div', { class: 'muted' }, p.slug)),
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
