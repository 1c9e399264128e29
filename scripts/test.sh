#!/usr/bin/env bash
# `make test`: everything CI runs. Starts a throw-away SecantusDB (unless MONGODB_URI is set),
# then formatting, lints, the owner console's types, every unit and integration test, the SAM
# template lint and the official PhonePe SDK check against the simulator.
set -euo pipefail
source "$(dirname "$0")/env.sh"
"$ROOT/scripts/tools.sh"
cd "$ROOT"

source "$ROOT/scripts/stack.sh"
STACK_LOGS="${TMPDIR:-/tmp}/pitalya-test"
trap stack_down EXIT

step() { echo; echo "==> $*"; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --quiet -- -D warnings

step "cfn-lint template.yaml"
"$VENV/bin/cfn-lint" template.yaml

step "no unused dependencies (scripts/unused-deps.py)"
"$VENV/bin/python" "$ROOT/scripts/unused-deps.py"

step "make prove's invariants each fail on a world that breaks them (scripts/prove/test_invariants.py)"
PYTHONPATH="$ROOT/scripts" "$VENV/bin/python" -m unittest -q prove.test_invariants

step "tsc --noEmit: the owner console's ES modules against the types generated from openapi.yaml"
# The TypeScript clients/typescript pins (package-lock.json); `make test` has installed it
# already (scripts/client.sh --check), a lone scripts/test.sh installs it here.
[ -x clients/typescript/node_modules/.bin/tsc ] || (cd clients/typescript && npm ci --prefer-offline --loglevel=error)
clients/typescript/node_modules/.bin/tsc --noEmit -p functions/admin-ship/console

if [ -z "${MONGODB_URI:-}" ]; then
  step "throw-away SecantusDB and SES emulator (moto) for the tests (logs: $STACK_LOGS)"
fi
stack_db "$(free_port)"
# The Rust tests read TEST_AWS_ENDPOINT_URL_SES (each verifies its own senders); the checks
# below start their own stacks, emulator included.
if [ -z "${TEST_AWS_ENDPOINT_URL_SES:-}" ]; then
  outer_ses="${AWS_ENDPOINT_URL_SES:-}"
  unset AWS_ENDPOINT_URL_SES
  stack_ses "$(free_port)"
  export TEST_AWS_ENDPOINT_URL_SES="$AWS_ENDPOINT_URL_SES"
  unset AWS_ENDPOINT_URL_SES
  [ -z "$outer_ses" ] || export AWS_ENDPOINT_URL_SES="$outer_ses"
fi

step "cargo test (debug, whole workspace)"
cargo test --workspace --quiet

if [ -x "$ROOT/dev/sdk-check/run.sh" ]; then
  step "official PhonePe Node SDK against the simulator"
  SIM_BIN="$CARGO_TARGET_DIR/debug/phonepe-sim" "$ROOT/dev/sdk-check/run.sh"
fi

step "headless chromium: initiate -> PhonePe page -> Pay -> the return page shows the order paid"
cargo build --quiet -p dev-server -p phonepe-sim
"$ROOT/dev/browser-check/run.sh"

step "typed storefront flow (clients/typescript, tsc --strict) on the local stack, every response against openapi.yaml"
"$ROOT/scripts/storefront-check.sh"

step "README's screenful of curl and docs/walkthrough.md, as written, twice, on a stack of their own"
"$ROOT/scripts/walkthrough-check.sh"

step "schemathesis against openapi.yaml on the local stack (make fuzz, 10 examples per operation)"
FUZZ_EXAMPLES="${FUZZ_EXAMPLES:-10}" FUZZ_REPORT="$CARGO_TARGET_DIR/fuzz-short.md" "$ROOT/scripts/fuzz.sh"

step "invariant suite, short form (make prove): concurrent shoppers, webhook chaos, SIGKILLed API"
PROVE_SHORT=1 "$ROOT/scripts/prove.sh"

echo; echo "make test: all green"
