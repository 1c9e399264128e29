// @ts-check
// Coupons: the list with each coupon's state as checkout decides it, and the form.
import { PAGE_SIZE, call, localProblem } from './api.js';
import { actionButton, cards, h, notice, onSubmit, pagedList, setNav, show } from './dom.js';
import { istToRfc, paiseToInput, parsePaise, rfcToIst, rupees, when } from './format.js';

/** @typedef {import('./api.js').Coupon} Coupon */
/** @typedef {import('./api.js').Schemas['UpdateCouponRequest']} CouponPatch */

/** @param {Coupon} c */
function couponValue(c) { return c.type === 'percent' ? `${c.value}%` : rupees(c.value); }

/** Whether shoppers can use the coupon now, as checkout decides it: switched on, not past
 * its expiry and not used up. Each reason it cannot is its own badge.
 * @param {Coupon} c */
function couponBadges(c) {
  const out = [];
  if (!c.isActive) out.push(h('span', { class: 'badge off' }, 'inactive'));
  if (c.expiresAt && !(new Date(c.expiresAt).getTime() > Date.now())) out.push(h('span', { class: 'badge expired' }, 'expired'));
  if (c.usageLimit != null && (c.usedCount ?? 0) >= c.usageLimit) out.push(h('span', { class: 'badge used-up' }, 'used up'));
  return out.length ? out : [h('span', { class: 'badge on' }, 'active')];
}

/** @param {unknown} e */
const message = (e) => (e instanceof Error ? e.message : String(e));

/** @param {Coupon | null} c
 * @param {(saved: Coupon) => Promise<unknown>} done */
function couponForm(c, done) {
  /** @type {Partial<Coupon>} */
  const v = c || { type: 'percent', isActive: true };
  /** @param {string} name
   * @param {number | null | undefined} paise */
  const optionalMoney = (name, paise) => h('input', { name, inputmode: 'decimal', value: paiseToInput(paise), placeholder: 'none' });
  const form = h('form', { class: 'card coupon-form' },
    h('h3', {}, c ? `Edit ${c.code}` : 'New coupon'),
    c ? null : h('label', {}, 'Code', h('input', { name: 'code', size: 14 })),
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
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, c ? 'Save' : 'Create'),
      h('button', { type: 'button', on: { click: () => viewCoupons() } }, 'Back')));
  return onSubmit(form, async (fd) => {
    const type = fd.get('type') === 'flat' ? /** @type {const} */ ('flat') : /** @type {const} */ ('percent');
    const rawValue = String(fd.get('value') || '').trim();
    let value;
    if (type === 'flat') {
      try { value = parsePaise(rawValue, { allowZero: false }); } catch (e) { throw localProblem('value', message(e)); }
    } else {
      if (!/^\d{1,3}$/.test(rawValue)) throw localProblem('value', 'must be a whole percentage such as 10');
      value = Number(rawValue);
    }
    /** @param {string} name */
    const money = (name) => {
      const s = String(fd.get(name) || '').trim();
      if (!s) return null;
      try { return parsePaise(s); } catch (e) { throw localProblem(name, message(e)); }
    };
    /** @param {string} name */
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
    if (c) {
      /** @type {Record<string, unknown>} */
      const before = { ...c, expiresAt: c.expiresAt ? istToRfc(rfcToIst(c.expiresAt)) : null };
      /** @type {CouponPatch} */
      const patch = {};
      for (const [k, val] of Object.entries(body)) {
        if (JSON.stringify(val) !== JSON.stringify(before[k] ?? null)) Object.assign(patch, { [k]: val });
      }
      if (!Object.keys(patch).length) { notice('Nothing changed'); return; }
      saved = await call('patch', '/admin/coupons/{code}', { path: { code: c.code }, body: patch });
    } else {
      /** @type {Record<string, unknown>} */
      const create = { code: String(fd.get('code') || ''), ...body };
      for (const k of Object.keys(create)) if (create[k] === null) delete create[k];
      saved = await call('post', '/admin/coupons', { body: /** @type {import('./api.js').Schemas['CreateCouponRequest']} */ (create) });
    }
    notice(`Coupon ${saved.code} saved`);
    await done(saved);
  });
}

export async function viewCoupons() {
  setNav('coupons');
  const list = pagedList(
    (cursor) => call('get', '/admin/coupons', { query: { limit: PAGE_SIZE, cursor } }),
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
              const saved = await call('patch', '/admin/coupons/{code}', { path: { code: c.code }, body: { isActive: !c.isActive } });
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
