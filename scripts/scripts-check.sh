#!/usr/bin/env bash
# Checks of the scripts a newcomer runs first (`make test` runs this; it needs no build):
# each case runs a script in a clean subshell the way a person would and looks at what it
# did. Fast, so it goes before anything that compiles.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
failures=0
fail() { echo "  FAIL: $*" >&2; failures=$((failures + 1)); }
pass() { echo "  ok: $*"; }

# What `source scripts/env.sh` exports for $1, with the rest of the command line as the
# environment it starts from (env -i: nothing from this shell leaks in).
env_after_sourcing() {
  local name=$1; shift
  env -i PATH="$PATH" HOME="${HOME:-/tmp}" "$@" bash -c 'source "$0/scripts/env.sh"; printf %s "${!1}"' "$ROOT" "$name"
}

redirect_set_by_hand_is_kept_as_given() {
  local url='https://shop.example/pay/return?orderId={orderId}'
  local got; got=$(env_after_sourcing PHONEPE_REDIRECT_URL PHONEPE_REDIRECT_URL="$url")
  [ "$got" = "$url" ] && pass "a PHONEPE_REDIRECT_URL set by hand is kept as given" \
    || fail "PHONEPE_REDIRECT_URL set to '$url' became '$got'"
}

default_redirect_names_the_order_once() {
  local got; got=$(env_after_sourcing PHONEPE_REDIRECT_URL PORT=3456)
  case "$got" in
    http://127.0.0.1:3456/*'{orderId}') pass "the default PHONEPE_REDIRECT_URL ends in {orderId}: $got" ;;
    *) fail "the default PHONEPE_REDIRECT_URL is '$got'" ;;
  esac
}

redirect_set_by_hand_is_kept_as_given
default_redirect_names_the_order_once

if [ "$failures" -gt 0 ]; then
  echo "scripts-check: $failures failed" >&2
  exit 1
fi
