// @ts-check
// The owner console's entry module: sign-in and navigation. Native ES modules, no build step
// and no dependencies: the page's CSP allows scripts from this origin (and Clerk's Frontend
// API) only, so nothing here may be inline, and every piece of data is put into the page as
// text, never as markup. The views are in console.modules/ (served from
// /admin/console.modules/), typed by the schema generated from openapi.yaml and checked by
// `tsc --noEmit -p functions/admin-ship/console` in `make test`.
import { Problem, loadMeta, localProblem, useTokenFrom } from './console.modules/api.js';
import { clearFlash, flash, h, onSubmit, problemBox, show } from './console.modules/dom.js';
import { viewCoupons } from './console.modules/coupons.js';
import { viewExport, viewOrders, viewQueue } from './console.modules/orders.js';
import { viewProducts } from './console.modules/products.js';
import { viewImport } from './console.modules/imports.js';

/**
 * The part of Clerk's browser SDK (clerk-js v5) the console uses.
 * @typedef {{
 *   load(options?: { nonce?: string | undefined }): Promise<void>,
 *   user: { id: string, primaryEmailAddress?: { emailAddress: string } | null } | null | undefined,
 *   session: { getToken(): Promise<string | null> } | null | undefined,
 *   signOut(): Promise<void>,
 *   mountSignIn(el: HTMLElement, props: Record<string, unknown>): void,
 *   unmountSignIn(el: HTMLElement): void,
 *   addListener(cb: (state: { user?: unknown, session?: unknown }) => void): unknown,
 * }} Clerk
 */

// The page's nonce, which Clerk marks the styles it injects with. A module has no
// `document.currentScript`; the nonce stays readable on the element's property after the
// browser hides the attribute.
const NONCE = /** @type {HTMLScriptElement | null} */ (document.querySelector('script[src="/admin/console.js"]'))?.nonce || '';

/** @type {Record<string, () => unknown>} */
const VIEWS = { queue: viewQueue, orders: () => viewOrders(), products: viewProducts, import: viewImport, coupons: viewCoupons, export: viewExport };

/** @type {(() => unknown) | null} */
let signOut = null;

/** Shows a view, once the API has said what the forms choose from (asked once). */
async function run(/** @type {() => unknown} */ view) {
  clearFlash();
  try { await loadMeta(); await view(); } catch (e) { flash(problemBox(e)); }
}

/** @param {string} who */
function startApp(who) {
  const nav = /** @type {HTMLElement} */ (document.getElementById('nav'));
  nav.hidden = false;
  for (const b of nav.querySelectorAll('button')) {
    const view = VIEWS[b.dataset['view'] || ''];
    if (view) b.addEventListener('click', () => run(view));
  }
  const whoBox = /** @type {HTMLElement} */ (document.getElementById('who'));
  whoBox.replaceChildren(h('span', {}, who), ...(signOut ? [h('button', { type: 'button', on: { click: signOut } }, 'Sign out')] : []));
  run(viewQueue);
}

/** @param {string} message */
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

/** @param {string} t */
function useDevToken(t) {
  // Memory only: never a cookie, storage or the query string, so it ends with the tab.
  useTokenFrom(async () => t);
  signOut = () => {
    useTokenFrom(async () => { throw new Problem({ code: 'UNAUTHENTICATED', detail: 'You signed out' }); });
    location.replace(location.pathname);
  };
  startApp('signed in with a token');
}

/** @param {Clerk} clerk */
async function signInWithClerk(clerk) {
  try {
    await clerk.load({ nonce: NONCE || undefined });
  } catch (e) {
    show(problemBox(new Problem({ code: 'CLERK_UNAVAILABLE', detail: `Clerk's sign-in did not load: ${e instanceof Error ? e.message : String(e)}` })));
    return;
  }
  const started = () => {
    useTokenFrom(async () => {
      const t = clerk.session && await clerk.session.getToken();
      if (!t) throw new Problem({ code: 'UNAUTHENTICATED', detail: 'Your Clerk session has ended; sign in again' });
      return t;
    });
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
  const clerkTag = /** @type {HTMLScriptElement | null} */ (document.querySelector('script[data-clerk-publishable-key]'));
  if (clerkTag) {
    const clerk = /** @type {Window & { Clerk?: Clerk }} */ (window).Clerk;
    if (clerk) { signInWithClerk(clerk); return; }
    show(problemBox(new Problem({ code: 'CLERK_UNAVAILABLE', detail: `Clerk's sign-in could not be loaded from ${new URL(clerkTag.src).origin}` })));
    return;
  }
  show(tokenForm('This console has no Clerk sign-in configured (CLERK_PUBLISHABLE_KEY). Open the link `make dev` prints, which carries an admin token after #token=, or paste one here.'));
}

init();
