// @ts-check
// Moving the catalog in from Shopify: the owner chooses the product CSV export, sees the dry
// run (what would be created, updated or left, and every problem by row), and only then
// imports. The file goes to the API as it is (text/csv); the page reads none of it, so the
// rules of the import are the API's alone (docs/shopify-import.md).
import { localProblem, meta, upload } from './api.js';
import { cards, h, notice, onSubmit, setNav, show } from './dom.js';
import { gstLabel } from './format.js';

/** @typedef {import('./api.js').Schemas['ShopifyImportReport']} ImportResult */

/** Counts of one kind of thing: created, updated, unchanged and (products only) skipped.
 * @param {{ created: number, updated: number, unchanged: number, skipped?: number }} c */
const counts = (c) => [c.created, c.updated, c.unchanged, c.skipped].map((n) => h('td', { class: 'num' }, n == null ? '—' : String(n)));

/** What an import did, or a dry run would do: its counts, ignored columns and problems.
 * @param {ImportResult} r */
function result(r) {
  const errors = r.problems.filter((p) => p.level === 'error').length;
  const warnings = r.problems.length - errors;
  const would = r.dryRun ? 'would be' : 'were';
  return h('div', { class: 'import-result', dataset: { dryRun: String(r.dryRun) } },
    h('h3', {}, r.dryRun ? 'Dry run: nothing was changed' : 'Imported'),
    cards(h('table', { class: 'import-counts' },
      h('thead', {}, h('tr', {}, ['', 'Created', 'Updated', 'Unchanged', 'Skipped'].map((c, i) => h('th', { class: i ? 'num' : '' }, c)))),
      h('tbody', {},
        h('tr', { dataset: { kind: 'products' } }, h('td', {}, 'Products'), counts(r.products)),
        h('tr', { dataset: { kind: 'variants' } }, h('td', {}, 'Variants'), counts(r.variants))))),
    h('p', {}, `${r.images} image URL${r.images === 1 ? '' : 's'} ${would} written (the images stay where Shopify keeps them).`),
    h('p', { class: 'muted' }, r.ignoredColumns.length
      ? `Columns the import leaves behind: ${r.ignoredColumns.join(', ')}.`
      : 'Every column of the file is read.'),
    h('h3', {}, r.problems.length
      ? `Problems: ${errors} error${errors === 1 ? '' : 's'} (the product is skipped whole), ${warnings} warning${warnings === 1 ? '' : 's'}`
      : 'No problems'),
    r.problems.length
      ? h('div', { class: 'scroll' }, cards(h('table', { class: 'import-problems' },
        h('thead', {}, h('tr', {}, ['Row', 'Handle', 'Column', 'Level', 'Message'].map((c, i) => h('th', { class: i ? '' : 'num' }, c)))),
        h('tbody', {}, r.problems.map((p) => h('tr', { class: `level-${p.level}` },
          h('td', { class: 'num' }, String(p.row)), h('td', { class: 'mono' }, p.handle || '—'), h('td', {}, p.column || '—'),
          h('td', {}, h('span', { class: `badge ${p.level}` }, p.level)), h('td', {}, p.message)))))))
      : null);
}

export function viewImport() {
  setNav('import');
  const out = h('div');
  const form = h('form', { class: 'card import-form', id: 'import-form' },
    h('p', {}, 'Choose the product CSV that Shopify exports (Products → Export → "CSV for Excel, Numbers, or other spreadsheet programs"). ',
      'A dry run shows what the import would change and every problem, by row; nothing changes until you press Import.'),
    h('label', { class: 'wide' }, 'Shopify product CSV', h('input', { name: 'file', type: 'file', accept: '.csv,text/csv' })),
    h('label', {}, 'Default HSN (optional)', h('input', { name: 'defaultHsn', size: 10, inputmode: 'numeric', placeholder: '7418' })),
    h('label', {}, 'Default GST rate (optional)', h('select', { name: 'defaultGstRate' },
      h('option', { value: '' }, 'none'), meta().gstRates.map((r) => h('option', { value: r }, gstLabel(r))))),
    h('p', { class: 'muted' }, 'Shopify exports carry no HSN: a product without one imports inactive, and can be activated once it has an HSN and a GST rate.'),
    h('div', { class: 'actions' }, h('button', { type: 'submit', name: 'dryRun', class: 'primary' }, 'Dry run')));
  // The Import button belongs to the dry run shown: choosing another file or default takes
  // it away, so what is imported is what the owner saw.
  form.addEventListener('change', () => { out.replaceChildren(); });
  onSubmit(form, async (fd, submitter) => {
    const file = fd.get('file');
    if (!(file instanceof File) || !file.name) throw localProblem('file', 'choose the CSV file Shopify exported');
    const dryRun = !submitter || submitter.name !== 'import';
    const query = {
      dryRun: /** @type {'true' | 'false'} */ (dryRun ? 'true' : 'false'),
      defaultHsn: String(fd.get('defaultHsn') || '').trim() || undefined,
      defaultGstRate: fd.get('defaultGstRate') ? /** @type {import('./api.js').GstRate} */ (Number(fd.get('defaultGstRate'))) : undefined,
    };
    const r = await upload('post', '/admin/imports/shopify-products', { data: file, type: 'text/csv' }, { query });
    const skipped = r.products.skipped ? ` (${r.products.skipped} product${r.products.skipped === 1 ? '' : 's'} skipped)` : '';
    const importButton = h('button', { type: 'submit', name: 'import', form: 'import-form', class: 'primary' }, `Import ${file.name}${skipped}`);
    out.replaceChildren(h('div', { class: 'card' }, result(r),
      r.dryRun ? h('div', { class: 'actions' }, importButton) : null));
    if (!r.dryRun) notice(`${file.name} imported: ${r.products.created} products created, ${r.products.updated} updated`);
  });
  show(h('section', { id: 'import' }, h('h2', {}, 'Import from Shopify'), form, out));
}
