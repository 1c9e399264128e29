// @ts-check
// Products: the list, a product's page (its variants, stock and ledger are variants.js's) and
// the new-product form. The GST rates a product may have are the API's
// (`GET /admin/meta`).
import { PAGE_SIZE, Problem, call, localProblem, meta } from './api.js';
import { actionButton, cards, h, notice, onSubmit, pagedList, setNav, show } from './dom.js';
import { gstLabel, priceRange } from './format.js';
import { combinations, given, readUnits, readVariant, stockAndLedger, variantInputs, variantsCard } from './variants.js';

/** @typedef {import('./api.js').AdminProduct} AdminProduct */
/** @typedef {import('./api.js').GstRate} GstRate */
/** @typedef {import('./api.js').ProductOption} ProductOption */
/** @typedef {(p: AdminProduct) => unknown} Done */

/** The rate a new product's form starts at: the standard rate on most goods. */
const USUAL_GST_RATE = 1800;

/** "Size: 6 in, 8 in" a line → the product's options; a blank text is none.
 * @param {FormDataEntryValue | null} text
 * @returns {ProductOption[]} */
function parseOptions(text) {
  const lines = String(text || '').split('\n').map((s) => s.trim()).filter(Boolean);
  return lines.map((line) => {
    const m = /^([^:]+):(.*)$/.exec(line);
    const values = m ? [...new Set((m[2] || '').split(',').map((s) => s.trim()).filter(Boolean))] : [];
    if (!m || !values.length) throw localProblem('options', `"${line}" should be an option's name and its values, such as Size: 6 in, 8 in`);
    return { name: (m[1] || '').trim(), values };
  });
}

/** The variants a new product with options starts with: one row per combination of values,
 * kept as the owner types (a row's typed fields survive an edit of the options).
 * @param {HTMLFormElement} form */
function newVariantsGrid(form) {
  const box = h('div', { class: 'new-variants' });
  /** @type {Map<string, Record<string, string>>} */
  const typed = new Map();
  /** @type {Record<string, string>[]} */
  let combos = [];
  const fields = ['make', 'sku', 'price', 'compareAtPrice', 'stock', 'weightGrams', 'dimensionsCm'];
  const key = (/** @type {Record<string, string>} */ c) => JSON.stringify(c);
  function keep() {
    combos.forEach((c, i) => typed.set(key(c), Object.fromEntries(fields.map((f) => {
      const el = form.elements.namedItem(`variants[${i}].${f}`);
      if (!(el instanceof HTMLInputElement)) return [f, ''];
      return [f, el.type === 'checkbox' ? (el.checked ? 'on' : 'off') : el.value];
    }))));
  }
  /** @param {ProductOption[]} options */
  function render(options) {
    keep();
    combos = options.length ? combinations(options) : [];
    if (!combos.length) { box.replaceChildren(); return; }
    const rows = combos.map((c, i) => {
      const was = typed.get(key(c)) || {};
      const at = `variants[${i}].`;
      const inputs = variantInputs(at, {});
      const stock = h('input', { name: `${at}stock`, type: 'number', min: 0, step: 1, size: 5, value: was['stock'] ?? '0' });
      // Not every combination is made (no 10 in in Antique): the owner leaves those out.
      const make = h('input', { type: 'checkbox', name: `${at}make`, checked: was['make'] !== 'off', 'aria-label': `Make ${Object.values(c).join(' / ')}` });
      for (const [f, el] of Object.entries(inputs)) el.value = was[f] ?? '';
      return h('tr', {}, h('td', {}, make), options.map((o) => h('td', {}, c[o.name] || '')),
        h('td', {}, inputs.sku), h('td', {}, inputs.price), h('td', {}, inputs.compareAtPrice), h('td', {}, stock),
        h('td', {}, inputs.weightGrams), h('td', {}, inputs.dimensionsCm));
    });
    box.replaceChildren(h('p', { class: 'muted' }, `${combos.length} combination${combos.length === 1 ? '' : 's'}; untick the ones not made:`),
      h('div', { class: 'scroll' }, cards(h('table', { class: 'variants' },
        h('thead', {}, h('tr', {}, ['Make', ...options.map((o) => o.name), 'SKU', 'Price (₹)', 'Compare-at (₹)', 'Opening stock', 'Weight (g)', 'L × B × H (cm)'].map((c) => h('th', {}, c)))),
        h('tbody', {}, rows)))));
  }
  return { node: box, render, count: () => combos.length, combos: () => combos };
}

/** @param {AdminProduct | null} p
 * @param {Done} done */
function productForm(p, done) {
  const v = p || { isActive: true, gstRate: USUAL_GST_RATE, codAllowed: true };
  const name = p ? p.name : '';
  const single = variantInputs('', {});
  // A product's price and stock live on its variants: the edit form has neither, and a new
  // product gives them for its single variant or for each combination of its options.
  const simple = h('div', { class: 'single-variant' },
    h('label', {}, 'Price (₹)', single.price),
    h('label', {}, 'Opening stock', h('input', { name: 'stock', type: 'number', min: 0, step: 1, value: 0 })),
    h('label', {}, 'SKU (optional)', single.sku),
    h('label', {}, 'Weight (g)', single.weightGrams),
    h('label', {}, 'L × B × H (cm)', single.dimensionsCm));
  const form = h('form', { class: 'card product-form' },
    h('h3', {}, p ? `Edit ${p.name}` : 'New product'),
    h('label', {}, 'Name', h('input', { name: 'name', value: name, size: 36 })),
    p ? null : h('label', {}, 'Slug', h('input', { name: 'slug', value: '', size: 28, placeholder: 'kuber-brass-urli' })),
    h('label', {}, 'HSN', h('input', { name: 'hsn', value: (p && p.hsn) || '', size: 10 })),
    h('label', {}, 'GST', h('select', { name: 'gstRate' }, meta().gstRates.map((r) => h('option', { value: r, selected: v.gstRate === r }, gstLabel(r))))),
    h('label', { class: 'check' }, h('input', { type: 'checkbox', name: 'isActive', checked: v.isActive }), 'Active (shown in the shop)'),
    h('label', { class: 'check' }, h('input', { type: 'checkbox', name: 'codAllowed', checked: v.codAllowed }), 'Cash on delivery allowed'),
    h('label', { class: 'wide' }, 'Description', h('textarea', { name: 'description' }, (p && p.description) || '')),
    h('label', { class: 'wide' }, 'Image URLs, one a line', h('textarea', { name: 'images' }, ((p && p.images) || []).join('\n'))));
  const grid = newVariantsGrid(form);
  if (!p) {
    const options = h('textarea', { name: 'options', placeholder: 'Size: 6 in, 8 in\nFinish: Polished, Antique' });
    const hint = h('div', { class: 'muted' });
    options.addEventListener('input', () => {
      /** @type {ProductOption[]} */
      let parsed = [];
      try { parsed = parseOptions(options.value); hint.textContent = ''; } catch (e) { hint.textContent = e instanceof Error ? e.message : String(e); }
      grid.render(parsed);
      simple.hidden = grid.count() > 0;
    });
    form.append(
      h('label', { class: 'wide' }, 'Options, one a line (up to 3) — leave empty for a product sold as one variant', options), hint,
      simple, grid.node);
  }
  form.append(h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, p ? 'Save' : 'Create'),
    h('button', { type: 'button', on: { click: () => viewProducts() } }, 'Back')));
  return onSubmit(form, async (fd) => {
    const get = (/** @type {string} */ n) => fd.get(n);
    const body = {
      name: String(fd.get('name') || ''),
      hsn: String(fd.get('hsn') || ''),
      // One of the select's options, which are the API's own rates.
      gstRate: /** @type {GstRate} */ (Number(fd.get('gstRate'))),
      isActive: fd.get('isActive') === 'on',
      codAllowed: fd.get('codAllowed') === 'on',
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
      const slug = String(fd.get('slug') || '');
      const options = parseOptions(fd.get('options'));
      if (options.length) {
        // The rows sent, by their row in the form: the API's `variants[j]` is the j-th sent.
        const rows = grid.combos().map((c, i) => ({ c, i })).filter(({ i }) => fd.get(`variants[${i}].make`) === 'on');
        if (!rows.length) throw localProblem('options', 'tick at least one combination to make');
        const variants = rows.map(({ c, i }) => {
          const at = `variants[${i}].`;
          return { options: c, ...given(readVariant(get, at)), stock: readUnits(get, `${at}stock`) };
        });
        try {
          saved = await call('post', '/admin/products', { body: { ...body, slug, options, variants } });
        } catch (e) {
          if (e instanceof Problem && e.problem.errors) {
            for (const err of e.problem.errors) err.field = err.field.replace(/^variants\[(\d+)\]/, (_, j) => `variants[${rows[Number(j)]?.i ?? j}]`);
          }
          throw e;
        }
      } else {
        saved = await call('post', '/admin/products', { body: { ...body, slug, ...given(readVariant(get)), stock: readUnits(get, 'stock') } });
      }
    }
    notice(`${saved.name} saved`);
    await done(saved);
  });
}

/** @param {AdminProduct} p
 * @param {string} [variantId] the variant whose stock and ledger to show */
export async function viewProduct(p, variantId) {
  setNav('products');
  /** @type {import('./variants.js').Reopen} */
  const reopen = (saved, chosen) => viewProduct(saved, chosen);
  const stock = stockAndLedger(p, variantId, reopen);
  const range = priceRange(p);
  show(h('section', { id: 'product', dataset: { product: p.id } },
    h('p', {}, h('a', { href: '#', on: { click: (/** @type {Event} */ e) => { e.preventDefault(); viewProducts(); } } }, '← Products')),
    h('h2', {}, p.name, ' ', h('span', { class: `badge ${p.isActive ? 'on' : 'off'}` }, p.isActive ? 'active' : 'inactive')),
    h('p', { class: 'muted summary' }, `${p.slug} · ${range} · ${variantCount(p)} · ${p.stock} in stock · GST ${gstLabel(p.gstRate)} · HSN ${p.hsn || '—'}`),
    variantsCard(p, reopen, stock.pick),
    stock.node,
    productForm(p, (saved) => reopen(saved, variantId))));
  await stock.load();
}

/** @param {AdminProduct} p */
const variantCount = (p) => (p.variants.length === 1 ? '1 variant' : `${p.variants.length} variants`);

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
        h('thead', {}, h('tr', {}, ['Product', 'Price', 'Stock', 'GST', 'Status', ''].map((c) => h('th', { class: c === 'Price' || c === 'Stock' ? 'num' : '' }, c)))),
        h('tbody', {}, items.map((p) => {
          const slot = h('div');
          return h('tr', { dataset: { product: p.id } },
            h('td', {}, h('a', { href: '#', on: { click: (/** @type {Event} */ e) => { e.preventDefault(); viewProduct(p); } } }, p.name), h('div', { class: 'muted' }, p.slug)),
            h('td', { class: 'num' }, priceRange(p), h('div', { class: 'muted' }, variantCount(p))), h('td', { class: 'num' }, String(p.stock)),
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
