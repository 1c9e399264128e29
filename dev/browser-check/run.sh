#!/usr/bin/env bash
# Headless chromium through a real payment: initiate -> simulator page -> Pay -> make dev's return
# page (/dev/return) showing the order paid;
# then the owner console packs, ships, delivers and refunds that order (preview, then confirm),
# downloads its invoice and credit-note PDFs, adjusts stock, marks expired and used-up coupons,
# downloads the CSV, and fits every screen on a 390 px phone (console.mjs; screenshots in
# $CARGO_TARGET_DIR/browser-check);
# then the console signs in through (a stand-in of) Clerk's browser SDK (console-clerk.mjs);
# then a page on another origin calls the API across CORS, and one on an origin the stack's
# CORS_ALLOWED_ORIGINS leaves out is blocked (cors.mjs).
# Installs Debian's chromium when missing (root, as on CI) and playwright-core from the lock file.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/../../scripts/env.sh"
source "$ROOT/scripts/stack.sh"
if ! command -v chromium >/dev/null; then
  echo "installing Debian's chromium for the browser check"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null
fi
# The fonts the invoices embed (Noto, for every script of India) and colour emoji, so a buyer
# named आशा अय्यर or ஆஷா ஐயர் shows in the console's and the mails' screenshots as letters,
# not boxes: a bare machine has only DejaVu, which has none of India's scripts.
fonts=()
[ -f /usr/share/fonts/truetype/noto/NotoSansDevanagari-Regular.ttf ] || fonts+=(fonts-noto-core)
[ -f /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf ] || fonts+=(fonts-noto-color-emoji)
if [ ${#fonts[@]} -gt 0 ]; then
  echo "installing Debian's ${fonts[*]} for the browser check"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${fonts[@]}") >/dev/null
fi
(cd "$here" && npm ci --no-audit --no-fund --silent)
trap stack_down EXIT
# The storefront origin cors.mjs serves its page from: the only one the API allows.
CORS_PAGE_PORT=$(free_port)
export CORS_PAGE_PORT CORS_ALLOWED_ORIGINS="http://127.0.0.1:$CORS_PAGE_PORT"
stack_up
ORDER_ID=$(stack_place_order)
export ORDER_ID
SCREENSHOT="${SCREENSHOT:-$CARGO_TARGET_DIR/phonepe-page.png}" node "$here/pay.mjs"
SCREENSHOT="${CONSOLE_SCREENSHOT:-$CARGO_TARGET_DIR/owner-console.png}" node "$here/console.mjs"
# The console as production serves it: a second API server on the same database whose
# CLERK_PUBLISHABLE_KEY names a Frontend API, where the browser finds a stand-in of Clerk's SDK.
CLERK_HOST=clerk.pitalya.example
CLERK_PORT=$(free_port)
PORT=$CLERK_PORT CLERK_PUBLISHABLE_KEY="pk_test_$(printf '%s$' "$CLERK_HOST" | base64 -w0)" \
  LOG_FORMAT=text "$(stack_bin)/pitalya-dev" serve >"$STACK_LOGS/api-clerk.log" 2>&1 &
STACK_PIDS+=($!)
wait_port "$CLERK_PORT" 60
API_URL="http://127.0.0.1:$CLERK_PORT" CLERK_ORIGIN="https://$CLERK_HOST" node "$here/console-clerk.mjs"
node "$here/cors.mjs"
