#!/usr/bin/env bash
# `make test`: everything CI runs. Starts a throw-away SecantusDB (unless MONGODB_URI is set),
# then formatting, lints, every unit and integration test, the SAM template lint and the
# official PhonePe SDK check against the simulator.
set -euo pipefail
source "$(dirname "$0")/env.sh"
"$ROOT/scripts/tools.sh"
cd "$ROOT"

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

step() { echo; echo "==> $*"; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --quiet -- -D warnings

step "cfn-lint template.yaml"
"$VENV/bin/cfn-lint" template.yaml

if [ -z "${MONGODB_URI:-}" ]; then
  DB_PORT=$(free_port)
  step "throw-away SecantusDB on 127.0.0.1:$DB_PORT"
  "$VENV/bin/secantusd-py" --host 127.0.0.1 --port "$DB_PORT" --storage-path ':memory:' --log-level WARNING \
    >"${TMPDIR:-/tmp}/pitalya-test-db.log" 2>&1 &
  pids+=($!)
  wait_port "$DB_PORT" 60
  export MONGODB_URI="mongodb://127.0.0.1:$DB_PORT/?directConnection=true"
fi

if [ -z "${TEST_AWS_ENDPOINT_URL_SES:-}" ]; then
  MOTO=$(free_port)
  step "throw-away SES emulator (moto) on 127.0.0.1:$MOTO"
  "$VENV/bin/moto_server" -H 127.0.0.1 -p "$MOTO" >"${TMPDIR:-/tmp}/pitalya-test-moto.log" 2>&1 &
  pids+=($!)
  wait_port "$MOTO" 30
  export TEST_AWS_ENDPOINT_URL_SES="http://127.0.0.1:$MOTO"
fi

step "cargo test (debug, whole workspace)"
cargo test --workspace --quiet

if [ -x "$ROOT/dev/sdk-check/run.sh" ]; then
  step "official PhonePe Node SDK against the simulator"
  SIM_BIN="$CARGO_TARGET_DIR/debug/phonepe-sim" "$ROOT/dev/sdk-check/run.sh"
fi

step "headless chromium: initiate -> PhonePe page -> Pay -> redirect -> paid"
cargo build --quiet -p dev-server -p phonepe-sim
"$ROOT/dev/browser-check/run.sh"

step "schemathesis against openapi.yaml on the local stack (make fuzz, 10 examples per operation)"
FUZZ_EXAMPLES="${FUZZ_EXAMPLES:-10}" FUZZ_REPORT="$CARGO_TARGET_DIR/fuzz-short.md" "$ROOT/scripts/fuzz.sh"

step "invariant suite, short form (make prove): concurrent shoppers, webhook chaos, SIGKILLed API"
PROVE_SHORT=1 "$ROOT/scripts/prove.sh"

echo; echo "make test: all green"
