// @ts-check
// Money, rates and times as the owner reads and types them. Money is integer paise in and out;
// rupees typed by the owner are parsed as text, so that "19.99" is 1999 paise and never
// 1998.9999.

/** @param {string} digits */
function groupIndian(digits) {
  if (digits.length <= 3) return digits;
  const last3 = digits.slice(-3);
  let rest = digits.slice(0, -3);
  const parts = [];
  while (rest.length > 2) { parts.unshift(rest.slice(-2)); rest = rest.slice(0, -2); }
  if (rest) parts.unshift(rest);
  return parts.join(',') + ',' + last3;
}

/** 129900 → "₹1,299.00"; anything not a whole number of paise is shown as it is.
 * @param {unknown} paise */
export function rupees(paise) {
  if (typeof paise !== 'number' || !Number.isInteger(paise)) return paise == null ? '—' : String(paise);
  const sign = paise < 0 ? '−' : '';
  const abs = Math.abs(paise);
  const whole = Math.floor(abs / 100).toString();
  const frac = (abs % 100).toString().padStart(2, '0');
  return `${sign}₹${groupIndian(whole)}.${frac}`;
}

/** A product's price as shoppers see it: one price, or "₹1,299.00 – ₹1,899.00" when its
 * active variants differ.
 * @param {{ price: number, priceRange?: { min: number, max: number } | null }} p */
export function priceRange(p) {
  const r = p.priceRange;
  return r && r.min !== r.max ? `${rupees(r.min)} – ${rupees(r.max)}` : rupees(p.price);
}

/** "1,299.5" or "₹1299.50" → 129950; throws a message for anything else.
 * @param {unknown} text
 * @param {{ allowZero?: boolean }} [options] */
export function parsePaise(text, { allowZero = true } = {}) {
  const s = String(text).trim().replace(/^₹\s*/, '').replace(/,/g, '');
  const m = /^(\d{1,12})(?:\.(\d{1,2}))?$/.exec(s);
  if (!m) throw new Error('must be an amount in rupees such as 1299 or 1299.50');
  const paise = Number(m[1]) * 100 + Number((m[2] || '').padEnd(2, '0'));
  if (!allowZero && paise === 0) throw new Error('must be more than ₹0');
  return paise;
}

/** @param {number | null | undefined} paise */
export function paiseToInput(paise) {
  if (typeof paise !== 'number') return '';
  return `${Math.floor(paise / 100)}.${String(paise % 100).padStart(2, '0')}`;
}

/** @param {string | null | undefined} iso */
export function when(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return d.toLocaleString('en-IN', { timeZone: 'Asia/Kolkata', dateStyle: 'medium', timeStyle: 'short' }) + ' IST';
}

/** GST rates travel in basis points (1800 = 18 %).
 * @param {number | null | undefined} bps */
export function gstLabel(bps) { return bps == null ? '—' : `${bps / 100}%`; }

/** A machine word for people: "payment_pending" → "payment pending".
 * @param {string} word */
export function words(word) { return String(word).replaceAll('_', ' '); }

/** A date input's day as the start or end of that day in India.
 * @param {FormDataEntryValue | null} date
 * @param {boolean} endOfDay */
export function istDate(date, endOfDay) {
  if (!date) return '';
  return `${String(date)}T${endOfDay ? '23:59:59' : '00:00:00'}+05:30`;
}

/** datetime-local (read as India time) → RFC 3339, and back.
 * @param {string} local */
export function istToRfc(local) { return local ? `${local.length === 16 ? `${local}:00` : local}+05:30` : ''; }
/** @param {string | null | undefined} iso */
export function rfcToIst(iso) {
  if (!iso) return '';
  const d = new Date(new Date(iso).getTime() + 5.5 * 3600 * 1000);
  return Number.isNaN(d.getTime()) ? '' : d.toISOString().slice(0, 16);
}

/** "shippingFee" → "Shipping Fee".
 * @param {string} key */
export function label(key) { return String(key).replace(/([a-z])([A-Z])/g, '$1 $2').replace(/^./, (c) => c.toUpperCase()); }
