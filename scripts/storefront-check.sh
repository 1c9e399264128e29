#!/usr/bin/env bash
# The typed storefront flow against a running stack (part of `make test`; docs/storefront.md):
# clients/typescript/examples/storefront.ts driven by clients/typescript/e2e/run-storefront.ts,
# compiled with tsc (strict, tsconfig.e2e.json) and run on node. It walks the catalog page by
# page, fills the cart, quotes a coupon, checks out with an Idempotency-Key, pays on the
# PhonePe simulator's page, polls the order until paid, lists the order history, has the owner
# ship it and downloads the invoice (JSON and PDF), then refunds part of it for a credit note;
# every API response is validated against openapi.yaml.
#
#   scripts/storefront-check.sh                a throw-away stack of its own on free ports
#                                              (scripts/stack.sh), from $STACK_BIN or
#                                              $CARGO_TARGET_DIR/debug (pitalya-dev, phonepe-sim)
#   scripts/storefront-check.sh --against URL  a stack already running at URL, e.g. `make dev`'s
#                                              http://127.0.0.1:3000, with CUSTOMER_TOKEN and
#                                              ADMIN_TOKEN exported (`make dev` prints both)
# The invoice PDF is saved in $CARGO_TARGET_DIR/storefront/. Only node and npm need to be
# installed; the versions are pinned in clients/typescript/package.json and package-lock.json.
set -euo pipefail
source "$(dirname "$0")/env.sh"

against=""
case "${1:-}" in
  --against) against="${2:?usage: scripts/storefront-check.sh [--against URL]}" ;;
  "") ;;
  *) echo "usage: scripts/storefront-check.sh [--against URL]" >&2; exit 2 ;;
esac

for tool in node npm; do
  command -v "$tool" >/dev/null || { echo "node and npm are required for the storefront flow (https://nodejs.org)" >&2; exit 1; }
done

dir="$ROOT/clients/typescript"
cd "$dir"
export NO_UPDATE_NOTIFIER=1 npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false
if ! npm ls --depth=0 >/dev/null 2>&1; then
  echo "==> clients/typescript: npm ci"
  npm ci --prefer-offline --loglevel=error
fi

echo "==> clients/typescript: tsc -p tsconfig.e2e.json (strict: e2e/, examples/storefront.ts, src/)"
build="$dir/node_modules/.cache/pitalya-storefront"
rm -rf "$build"
node_modules/.bin/tsc -p tsconfig.e2e.json

if [ -z "$against" ]; then
  source "$ROOT/scripts/stack.sh"
  for bin in pitalya-dev phonepe-sim; do
    [ -x "$(stack_bin)/$bin" ] || { echo "$(stack_bin)/$bin is missing: cargo build -p dev-server -p phonepe-sim (or set STACK_BIN)" >&2; exit 1; }
  done
  STACK_LOGS="${TMPDIR:-/tmp}/pitalya-storefront"
  trap stack_down EXIT
  echo "==> throw-away stack (logs: $STACK_LOGS)"
  stack_up
  echo "    API $API_URL, PhonePe simulator $SIM_URL"
else
  : "${CUSTOMER_TOKEN:?export CUSTOMER_TOKEN and ADMIN_TOKEN: make dev prints both}" "${ADMIN_TOKEN:?export ADMIN_TOKEN: make dev prints it}"
  API_URL="$against"
  echo "==> against the running stack at $API_URL"
fi

echo "==> the storefront flow (e2e/run-storefront.ts), every response checked against openapi.yaml"
status=0
OPENAPI="$ROOT/openapi.yaml" STOREFRONT_OUT="${STOREFRONT_OUT:-$CARGO_TARGET_DIR/storefront}" \
  API_URL="$API_URL" CUSTOMER_TOKEN="$CUSTOMER_TOKEN" ADMIN_TOKEN="$ADMIN_TOKEN" \
  node "$build/e2e/run-storefront.js" || status=$?
if (( status != 0 )) && [ -n "${STACK_LOGS:-}" ] && [ -f "$STACK_LOGS/api.log" ]; then
  echo "--- last lines of $STACK_LOGS/api.log" >&2
  tail -n 30 "$STACK_LOGS/api.log" >&2
fi
exit "$status"
