// @ts-check
// A product's variants on its page: the grid (one row per variant, each row its own form whose
// inputs sit in the row's cells), adding a variant, adding option values, and stock per
// variant with its ledger. Stock never moves through the grid or the variant's PATCH: only
// through the stock form, which writes a ledger entry in the same change.
import { PAGE_SIZE, call, localProblem } from './api.js';
import { cards, h, notice, onSubmit, pagedList } from './dom.js';
import { paiseToInput, parsePaise, when } from './format.js';
import { viewOrder } from './orders.js';

/** @typedef {import('./api.js').AdminProduct} AdminProduct */
/** @typedef {import('./api.js').Variant} Variant */
/** @typedef {import('./api.js').ProductOption} ProductOption */
/** @typedef {(p: AdminProduct, variantId?: string) => unknown} Reopen */
/** @typedef {(name: string) => FormDataEntryValue | null} Get */

/**
 * A variant's own fields as a form holds them. `at` prefixes every input's name
 * (`variants[2].` in the new-product form), so a problem names the input it came from.
 * Blank optional fields are null (a new variant without a SKU gets one made from its id).
 * @param {Get} get
 * @param {string} [at]
 */
export function readVariant(get, at = '') {
  /** @param {string} n */
  const text = (n) => String(get(at + n) ?? '').trim();
  /** @param {string} n */
  const money = (n) => {
    try { return parsePaise(text(n), { allowZero: false }); } catch (e) { throw localProblem(at + n, e instanceof Error ? e.message : String(e)); }
  };
  const grams = text('weightGrams');
  if (grams && !/^[1-9]\d*$/.test(grams)) throw localProblem(`${at}weightGrams`, 'must be a whole number of grams, more than 0');
  const dims = text('dimensionsCm');
  const m = /^(\d+)\s*[x×*]\s*(\d+)\s*[x×*]\s*(\d+)$/i.exec(dims);
  if (dims && !m) throw localProblem(`${at}dimensionsCm`, 'must be length × breadth × height in whole centimetres, such as 20 x 20 x 8');
  return {
    sku: text('sku') || null,
    price: money('price'),
    compareAtPrice: text('compareAtPrice') ? money('compareAtPrice') : null,
    weightGrams: grams ? Number(grams) : null,
    dimensionsCm: m ? { length: Number(m[1]), breadth: Number(m[2]), height: Number(m[3]) } : null,
  };
}

/** Whole units: an opening stock (0 or more) or a change (signed, not 0).
 * @param {Get} get
 * @param {string} name
 * @param {{ signed?: boolean }} [options] */
export function readUnits(get, name, { signed = false } = {}) {
  const raw = String(get(name) ?? '').trim();
  if (signed ? !/^[+-]?\d+$/.test(raw) || Number(raw) === 0 : !/^\d+$/.test(raw)) {
    throw localProblem(name, signed ? 'must be a whole number of units, such as 5 or -2' : 'must be a whole number, 0 or more');
  }
  return Number(raw);
}

/** The object without its null fields: what a create sends for blanks it leaves out.
 * @template {Record<string, unknown>} T
 * @param {T} o
 * @returns {{ [K in keyof T]?: Exclude<T[K], null> }} */
export function given(o) {
  return /** @type {{ [K in keyof T]?: Exclude<T[K], null> }} */ (Object.fromEntries(Object.entries(o).filter(([, v]) => v != null)));
}

/** @param {Variant['dimensionsCm'] | undefined} d */
export const dimsText = (d) => (d ? `${d.length} × ${d.breadth} × ${d.height}` : '');

/** The inputs of a variant's own fields, named as `readVariant` reads them.
 * @param {string} at
 * @param {Partial<Variant>} v
 * @param {Record<string, unknown>} [extra] attributes every input gets (the row's `form`) */
export function variantInputs(at, v, extra = {}) {
  /** @param {string} name @param {string} value @param {Record<string, unknown>} attrs */
  const input = (name, value, attrs) => h('input', { name: at + name, value, ...attrs, ...extra });
  return {
    sku: input('sku', v.sku || '', { size: 14, placeholder: 'URLI-8-ANT', autocomplete: 'off' }),
    price: input('price', paiseToInput(v.price), { size: 8, inputmode: 'decimal' }),
    compareAtPrice: input('compareAtPrice', paiseToInput(v.compareAtPrice), { size: 8, inputmode: 'decimal' }),
    weightGrams: input('weightGrams', v.weightGrams == null ? '' : String(v.weightGrams), { size: 6, inputmode: 'numeric' }),
    dimensionsCm: input('dimensionsCm', dimsText(v.dimensionsCm), { size: 10, placeholder: '20 x 20 x 8' }),
  };
}

/** Every combination of the options' values, in the order Shopify lists variants.
 * @param {ProductOption[]} options
 * @returns {Record<string, string>[]} */
export function combinations(options) {
  return options.reduce((acc, o) => acc.flatMap((c) => o.values.map((v) => ({ ...c, [o.name]: v }))), [/** @type {Record<string, string>} */ ({})]);
}

/** What a variant is called where the owner picks one: its title and SKU, or its SKU alone
 * when the product has no options (its one variant's title says nothing).
 * @param {AdminProduct} p
 * @param {Variant} v */
const variantName = (p, v) => (p.options.length ? `${v.title} · ${v.sku}` : v.sku);

/** @param {AdminProduct} p
 * @param {Reopen} reopen
 * @param {(v: Variant) => void} pickStock */
function variantGrid(p, reopen, pickStock) {
  const names = p.options.map((o) => o.name);
  const heads = [...names, 'Variant', 'SKU', 'Price (₹)', 'Compare-at (₹)', 'Stock', 'Weight (g)', 'L × B × H (cm)', 'Image URL', 'Active', ''];
  const rows = p.variants.map((v) => {
    const id = `variant-${v.id}`;
    const inputs = variantInputs('', v, { form: id });
    const image = h('input', { name: 'image', form: id, value: v.image || '', size: 16, placeholder: 'https://…' });
    const active = h('input', { type: 'checkbox', name: 'isActive', form: id, checked: v.isActive, 'aria-label': `${v.title} active` });
    const form = onSubmit(h('form', { id, class: 'variant-save' }, h('button', { type: 'submit' }, 'Save')), async (fd) => {
      const now = { ...readVariant((n) => fd.get(n)), image: String(fd.get('image') || '').trim() || null, isActive: fd.get('isActive') === 'on' };
      if (!now.sku) throw localProblem('sku', 'is required: every variant keeps a SKU');
      // Only what changed, so saving one row cannot undo someone else's edit of another field.
      /** @type {Record<string, unknown>} */
      const before = v;
      /** @type {import('./api.js').Schemas['VariantInput']} */
      const patch = Object.fromEntries(Object.entries(now).filter(([k, val]) => JSON.stringify(val) !== JSON.stringify(before[k] ?? null)));
      if (!Object.keys(patch).length) { notice('Nothing changed'); return; }
      const saved = await call('patch', '/admin/products/{id}/variants/{variantId}', { path: { id: p.id, variantId: v.id }, body: patch });
      notice(`${p.name}${p.options.length ? ` — ${v.title}` : ''} saved`);
      await reopen(saved, v.id);
    });
    return h('tr', { dataset: { variant: v.id }, class: v.isActive ? '' : 'inactive' },
      names.map((n) => h('td', {}, v.options[n] ?? '—')),
      h('td', {}, v.title),
      h('td', {}, inputs.sku), h('td', {}, inputs.price), h('td', {}, inputs.compareAtPrice),
      h('td', { class: 'num' }, h('button', { type: 'button', class: 'link', title: 'Adjust this variant\'s stock', on: { click: () => pickStock(v) } }, String(v.stock))),
      h('td', {}, inputs.weightGrams), h('td', {}, inputs.dimensionsCm), h('td', {}, image),
      h('td', {}, active), h('td', {}, form));
  });
  return h('div', { class: 'scroll' }, cards(h('table', { class: 'variants' },
    h('thead', {}, h('tr', {}, heads.map((c) => h('th', { class: c === 'Stock' ? 'num' : '' }, c)))),
    h('tbody', {}, rows))));
}

/** New values for the product's options: "Size: 10 in" beside the values it has.
 * @param {AdminProduct} p
 * @param {Reopen} reopen */
function optionValuesForm(p, reopen) {
  const form = h('form', { class: 'inline option-values' },
    p.options.map((o) => h('label', {}, `${o.name} (${o.values.join(', ')})`,
      h('input', { name: `add:${o.name}`, size: 26, placeholder: 'new values, a comma between' }))),
    h('button', { type: 'submit' }, 'Add values'));
  return onSubmit(form, async (fd) => {
    let added = 0;
    const options = p.options.map((o) => {
      const fresh = String(fd.get(`add:${o.name}`) || '').split(',').map((s) => s.trim()).filter((s) => s && !o.values.includes(s));
      added += fresh.length;
      return { name: o.name, values: [...o.values, ...new Set(fresh)] };
    });
    if (!added) throw localProblem(`add:${p.options[0]?.name}`, 'type a value the option does not have yet');
    const saved = await call('patch', '/admin/products/{id}', { path: { id: p.id }, body: { options } });
    notice(`${saved.name}: ${added === 1 ? 'one value' : `${added} values`} added; add the variants that use ${added === 1 ? 'it' : 'them'} below`);
    await reopen(saved);
  });
}

/** @param {AdminProduct} p
 * @param {Reopen} reopen */
function addVariantForm(p, reopen) {
  const inputs = variantInputs('', {});
  const form = h('form', { class: 'inline add-variant' },
    p.options.map((o) => h('label', {}, o.name, h('select', { name: `option:${o.name}` }, o.values.map((val) => h('option', { value: val }, val))))),
    h('label', {}, 'SKU', inputs.sku), h('label', {}, 'Price (₹)', inputs.price),
    h('label', {}, 'Compare-at (₹)', inputs.compareAtPrice),
    h('label', {}, 'Opening stock', h('input', { name: 'stock', type: 'number', min: 0, step: 1, value: 0, size: 6 })),
    h('label', {}, 'Weight (g)', inputs.weightGrams), h('label', {}, 'L × B × H (cm)', inputs.dimensionsCm),
    h('label', {}, 'Image URL', h('input', { name: 'image', size: 24 })),
    h('label', { class: 'check' }, h('input', { type: 'checkbox', name: 'isActive', checked: true }), 'Active'),
    h('button', { type: 'submit', class: 'primary' }, 'Add variant'));
  return onSubmit(form, async (fd) => {
    const get = (/** @type {string} */ n) => fd.get(n);
    const options = Object.fromEntries(p.options.map((o) => [o.name, String(fd.get(`option:${o.name}`) || '')]));
    const body = {
      ...given({ ...readVariant(get), image: String(fd.get('image') || '').trim() || null }),
      options, stock: readUnits(get, 'stock'), isActive: fd.get('isActive') === 'on',
    };
    const saved = await call('post', '/admin/products/{id}/variants', { path: { id: p.id }, body });
    notice(`${saved.name}: variant ${Object.values(options).join(' / ')} added`);
    await reopen(saved);
  });
}

/** The variants card: the grid, new option values and a new variant.
 * @param {AdminProduct} p
 * @param {Reopen} reopen
 * @param {(v: Variant) => void} pickStock */
export function variantsCard(p, reopen, pickStock) {
  return h('div', { class: 'card', id: 'variants' },
    h('h3', {}, `Variants (${p.variants.length})`),
    variantGrid(p, reopen, pickStock),
    p.options.length
      ? [h('h4', {}, 'Add option values'), optionValuesForm(p, reopen), h('h4', {}, 'Add a variant'), addVariantForm(p, reopen)]
      : h('p', { class: 'muted' }, 'This product has no options (size, finish…), so it is sold as this one variant.'));
}

/** The stock form and the ledger, both for the variant chosen (the ledger may show all).
 * @param {AdminProduct} p
 * @param {string | undefined} chosen the variant's id
 * @param {Reopen} reopen */
export function stockAndLedger(p, chosen, reopen) {
  const byId = new Map(p.variants.map((v) => [v.id, v]));
  const first = chosen && byId.has(chosen) ? chosen : p.variants.length === 1 ? p.variants[0]?.id : undefined;
  // The ledger shows every variant's movements until one is chosen; the stock form always
  // names one, the only one when there is one.
  const choice = (/** @type {string} */ name, /** @type {string | null} */ all, /** @type {string | undefined} */ picked) => h('select', { name },
    all == null ? null : h('option', { value: '' }, all),
    p.variants.map((v) => h('option', { value: v.id, selected: v.id === picked }, `${variantName(p, v)} (${v.stock} in stock)`)));
  const form = h('form', { class: 'inline stock-form' },
    h('label', {}, 'Variant', choice('variantId', null, first)),
    h('label', {}, 'Change (+/− units)', h('input', { name: 'delta', type: 'number', step: 1, size: 6 })),
    h('label', {}, 'Reason', h('input', { name: 'reason', size: 30, placeholder: 'recount, damaged, new batch…' })),
    h('button', { type: 'submit' }, 'Adjust stock'));
  onSubmit(form, async (fd) => {
    const v = byId.get(String(fd.get('variantId') || ''));
    if (!v) throw localProblem('variantId', 'choose the variant whose stock moved');
    const delta = readUnits((n) => fd.get(n), 'delta', { signed: true });
    const r = await call('post', '/admin/products/{id}/variants/{variantId}/stock', { path: { id: p.id, variantId: v.id }, body: { delta, reason: String(fd.get('reason') || '') } });
    notice(`${p.name} — ${variantName(p, v)}: stock is now ${r.movement.stockAfter}`);
    await reopen(r.product, v.id);
  });
  const filter = choice('ledgerVariant', 'All variants', chosen);
  const stockSelect = /** @type {HTMLSelectElement} */ (form.elements.namedItem('variantId'));
  const ledger = pagedList(
    (cursor) => call('get', '/admin/products/{id}/stock-movements', { path: { id: p.id }, query: { variantId: filter.value || undefined, limit: PAGE_SIZE, cursor } }),
    (items) => cards(h('table', { class: 'ledger' },
      h('thead', {}, h('tr', {}, ['When', 'Variant', 'Change', 'Stock after', 'Reason', 'Order', 'By'].map((c, i) => h('th', { class: i === 2 || i === 3 ? 'num' : '' }, c)))),
      h('tbody', {}, items.map((m) => {
        // A product sold as one variant has had one all along, whatever the entry names.
        const v = m.variantId ? byId.get(m.variantId) : p.variants.length === 1 ? p.variants[0] : undefined;
        return h('tr', { dataset: { variant: m.variantId || '' } },
          h('td', {}, when(m.at)),
          h('td', {}, v ? v.title : '—', h('div', { class: 'muted mono' }, m.sku || (v && v.sku) || '')),
          h('td', { class: 'num' }, m.delta > 0 ? `+${m.delta}` : String(m.delta)),
          h('td', { class: 'num' }, String(m.stockAfter)), h('td', {}, m.reason),
          h('td', {}, m.orderId ? h('a', { href: '#', on: { click: (/** @type {Event} */ e) => { e.preventDefault(); if (m.orderId) viewOrder(m.orderId); } } }, m.orderId) : '—'),
          h('td', {}, m.by));
      })))),
    'No movements yet.');
  filter.addEventListener('change', () => ledger.load());
  /** Shows one variant in both the form and the ledger (the grid's stock buttons). */
  const pick = (/** @type {Variant} */ v) => {
    stockSelect.value = v.id;
    filter.value = v.id;
    ledger.load();
    form.scrollIntoView({ block: 'center' });
    /** @type {HTMLInputElement} */ (form.elements.namedItem('delta')).focus();
  };
  const node = [
    h('div', { class: 'card', id: 'stock' }, h('h3', {}, 'Stock'), form),
    h('div', { class: 'card', id: 'ledger' }, h('h3', {}, 'Stock ledger'),
      h('form', { class: 'inline ledger-filter' }, h('label', {}, 'Show', filter)), ledger.node),
  ];
  return { node, load: () => ledger.load(), pick };
}
