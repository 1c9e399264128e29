#!/usr/bin/env bash
# Checks of the scripts a newcomer runs first (`make test` runs this; it needs no build):
# each case runs a script in a clean subshell the way a person would and looks at what it
# did. Fast, so it goes before anything that compiles.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
# For free_port; the cases below run scripts in environments of their own.
source "$ROOT/scripts/env.sh"
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

default_redirect_is_the_dev_return_page() {
  local got; got=$(env_after_sourcing PHONEPE_REDIRECT_URL PORT=3456)
  local want='http://127.0.0.1:3456/dev/return?orderId={orderId}'
  [ "$got" = "$want" ] && pass "the default PHONEPE_REDIRECT_URL is the dev server's return page: $got" \
    || fail "the default PHONEPE_REDIRECT_URL is '$got', not '$want'"
}

# A second `make dev` while the API port is taken: it must stop before building, printing a
# banner or opening a log, and say which port is taken and how to choose others.
second_make_dev_leaves_the_running_stack_alone() {
  local out; out=$(mktemp)
  python3 -c 'import socket,sys,time; s=socket.socket(); s.bind(("127.0.0.1",0)); s.listen(); print(s.getsockname()[1], flush=True); time.sleep(300)' >"$out" &
  local holder=$!
  local i=0; until [ -s "$out" ] || [ $i -ge 50 ]; do sleep 0.1; i=$((i + 1)); done
  local busy; busy=$(cat "$out")
  # The log the running stack on that port would be writing.
  local log="$ROOT/.data/logs-$busy/api.log"
  mkdir -p "$(dirname "$log")"; echo "the running stack's log" >"$log"
  local rc=0
  timeout 60 env PORT="$busy" SIM_PORT="$(free_port)" MOTO_PORT="$(free_port)" DB_PORT="$(free_port)" \
    "$ROOT/scripts/dev.sh" >"$out" 2>&1 </dev/null || rc=$?
  kill "$holder" 2>/dev/null; wait "$holder" 2>/dev/null || true
  if [ "$rc" -eq 0 ] || [ "$rc" -eq 124 ]; then fail "make dev on a taken PORT=$busy exited $rc (124: still running after 60 s)"
  elif grep -q "Pitalya is running\|TOKEN=\|building" "$out"; then fail "make dev on a taken port built or printed the banner: $(cat "$out")"
  elif ! grep -q "$busy (PORT" "$out" || ! grep -q "PORT=[0-9]* SIM_PORT=[0-9]* MOTO_PORT=[0-9]* DB_PORT=[0-9]* make dev" "$out"; then
    fail "make dev on a taken port did not name it and the way out: $(cat "$out")"
  elif [ "$(cat "$log")" != "the running stack's log" ]; then fail "make dev on a taken port touched the running stack's log"
  else pass "a second make dev on a taken port stops at once, names PORT=$busy and leaves the running stack's log alone"
  fi
  rm -rf "$(dirname "$log")" "$out"
}

redirect_set_by_hand_is_kept_as_given
default_redirect_is_the_dev_return_page
second_make_dev_leaves_the_running_stack_alone

if [ "$failures" -gt 0 ]; then
  echo "scripts-check: $failures failed" >&2
  exit 1
fi
