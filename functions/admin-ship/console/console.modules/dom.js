// @ts-check
// Building the page. The CSP allows no inline code, and every piece of data goes into the page
// as text, never as markup.
import { Problem } from './api.js';
import { words } from './format.js';

/**
 * What `h` sets on an element: `on` adds listeners, `class`, `dataset`, `value`, `checked`
 * and `selected` set those properties, anything else is an attribute (`true` is present,
 * `null`, `undefined` and `false` are absent).
 * @typedef {{ on?: Record<string, (ev: any) => unknown>, class?: string, dataset?: Record<string, string>,
 *   value?: string | number, checked?: boolean, selected?: boolean,
 *   [attribute: string]: unknown }} Attrs
 */
/** @typedef {Node | string | number | null | undefined | false} Child */
/** Text or nodes, in arrays as deep as the views nest them (`h` flattens them all).
 * @typedef {Child | Child[] | Child[][] | Child[][][]} Children */

/**
 * h('button', {class: 'primary', on: {click}}, 'Pack') — children are text or nodes.
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Attrs | null} [attrs]
 * @param {Children[]} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false) continue;
    if (k === 'on') for (const [ev, fn] of Object.entries(/** @type {Record<string, EventListener>} */ (v))) el.addEventListener(ev, fn);
    else if (k === 'class') el.className = String(v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'value') /** @type {HTMLInputElement} */ (el).value = String(v);
    else if (k === 'checked') /** @type {HTMLInputElement} */ (el).checked = !!v;
    else if (k === 'selected') /** @type {HTMLOptionElement} */ (el).selected = !!v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c == null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** @param {string} id */
function byId(id) {
  const el = document.getElementById(id);
  if (!el) throw new Error(`the page has no #${id}`);
  return el;
}

/** Replaces the main area with `nodes`.
 * @param {Node[]} nodes */
export function show(...nodes) { byId('main').replaceChildren(...nodes); window.scrollTo(0, 0); }

/** @param {Node} node */
export function flash(node) {
  const f = byId('flash');
  f.replaceChildren(node);
  f.hidden = false;
}
export function clearFlash() { const f = byId('flash'); f.hidden = true; f.replaceChildren(); }
/** @param {string} text */
export const notice = (text) => flash(h('div', { class: 'notice' }, text));

/** @param {string} status */
export function badge(status) { return h('span', { class: `badge ${status}` }, words(status)); }

/** Marks the navigation's button for the view shown.
 * @param {string} name */
export function setNav(name) {
  for (const b of document.querySelectorAll('#nav button')) {
    if (b instanceof HTMLElement) b.classList.toggle('active', b.dataset['view'] === name);
  }
}

/** Labels every cell with its column's heading, so that on a phone, where console.css shows
 * each row as a card instead of a table too wide for the screen, each value keeps its name
 * beside it. A cell's content is wrapped in one box, to stand in one place beside the name.
 * @param {HTMLTableElement} table */
export function cards(table) {
  const heads = [...table.querySelectorAll(':scope > thead > tr > th')].map((th) => th.textContent);
  for (const tr of table.querySelectorAll(':scope > tbody > tr')) {
    [...tr.children].forEach((cell, i) => {
      const td = /** @type {HTMLElement} */ (cell);
      td.dataset['label'] = heads[i] || '';
      if (td.dataset['label'] && td.childNodes.length && !td.classList.contains('wide-cell')) td.replaceChildren(h('div', {}, [...td.childNodes]));
    });
  }
  table.classList.add('cards');
  return table;
}

/** @param {string} title
 * @param {Children[]} body */
export function section(title, ...body) { return h('div', { class: 'card' }, h('h3', {}, title), ...body); }

/** The problem's detail, its code and every field error, as the page shows them.
 * @param {unknown} err */
export function problemBox(err) {
  const p = err instanceof Problem ? err.problem : { detail: err instanceof Error ? err.message : String(err) };
  const fields = Array.isArray(p.errors) ? p.errors : [];
  const first = fields[0];
  return h('div', { class: 'problem', role: 'alert', dataset: { code: p.code || '' } },
    h('strong', {}, p.detail || p.title || 'Something went wrong'),
    p.code ? h('span', { class: 'muted' }, ` (${p.code}${p.requestId ? `, request ${p.requestId}` : ''})`) : null,
    first && !(fields.length === 1 && p.detail === `${first.field}: ${first.message}`) ? h('ul', {}, fields.map((e) => h('li', {}, h('code', {}, e.field), ': ', e.message))) : null,
    Array.isArray(p.lines) && p.lines.length
      ? h('ul', {}, p.lines.map((l) => h('li', {}, `${l.name || l.productId}: ${l.requested ?? ''} asked, ${l.available ?? ''} available`)))
      : null);
}

/** @param {HTMLFormElement} form
 * @param {unknown} err */
function markFields(form, err) {
  const fields = err instanceof Problem && Array.isArray(err.problem.errors) ? err.problem.errors : [];
  for (const { field } of fields) {
    const base = String(field).split(/[.[]/)[0] || field;
    for (const name of [field, base]) {
      // The form's elements include the inputs outside it that name it (`form=`), as a row
      // of a table's cells does.
      const found = form.elements.namedItem(name);
      const el = found instanceof RadioNodeList ? found[0] : found;
      if (el instanceof Element) { el.classList.add('error-field'); break; }
    }
  }
}

/** Runs `fn(form data, the button pressed)` on submit with the buttons disabled, showing any
 * problem in the form.
 * @param {HTMLFormElement} form
 * @param {(fd: FormData, submitter: HTMLButtonElement | null) => Promise<unknown>} fn */
export function onSubmit(form, fn) {
  const slot = h('div', { class: 'slot' });
  form.append(slot);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    slot.replaceChildren();
    [...form.elements].forEach((e) => e.classList.remove('error-field'));
    const buttons = [...form.elements].filter((e) => e instanceof HTMLButtonElement);
    buttons.forEach((b) => { b.disabled = true; });
    try {
      await fn(new FormData(form), ev.submitter instanceof HTMLButtonElement ? ev.submitter : null);
    } catch (e) {
      slot.replaceChildren(problemBox(e));
      markFields(form, e);
    } finally {
      buttons.forEach((b) => { b.disabled = false; });
    }
  });
  return form;
}

/** A button that runs `fn`, shows its problem in `slot` (or the flash) and then `after`.
 * @param {string} label
 * @param {() => Promise<unknown>} fn
 * @param {{ cls?: string, slot?: HTMLElement | null, confirmText?: string | null }} [options] */
export function actionButton(label, fn, { cls = '', slot = null, confirmText = null } = {}) {
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

/** A list with "Load more" over `nextCursor`.
 * @template T
 * @param {(cursor: string | undefined) => Promise<{ items: T[], nextCursor: string | null }>} fetchPage
 * @param {(items: T[]) => Node} render
 * @param {string} emptyText */
export function pagedList(fetchPage, render, emptyText) {
  const box = h('div');
  const more = h('div', { class: 'pager' });
  /** @type {T[]} */
  let items = [];
  /** @param {string} [cursor] */
  async function load(cursor) {
    const page = await fetchPage(cursor);
    items = cursor ? items.concat(page.items) : page.items;
    box.replaceChildren(items.length ? render(items) : h('p', { class: 'muted' }, emptyText));
    const next = page.nextCursor;
    more.replaceChildren(...(next ? [actionButton('Load more', () => load(next), { slot: box })] : []));
  }
  return { node: h('div', {}, box, more), load };
}
