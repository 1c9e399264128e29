#!/usr/bin/env bash
# Runs the official PhonePe Node SDK (check.mjs) against a freshly started simulator binary.
# Usage: dev/sdk-check/run.sh   (after `cargo build -p phonepe-sim`; SIM_BIN overrides the binary)
set -euo pipefail
cd "$(dirname "$0")"

SIM_BIN="${SIM_BIN:-../../target/debug/phonepe-sim}"
if [[ ! -x "$SIM_BIN" ]]; then
  echo "simulator binary not found at $SIM_BIN; run: cargo build -p phonepe-sim" >&2
  exit 1
fi

npm ci --no-audit --no-fund

# Ask the OS for a free port; the tiny window before the simulator binds it is acceptable here.
port="$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"

# Explicit SIM_* values so stray PHONEPE_* variables in the caller's shell cannot leak in.
export SIM_PORT="$port"
export SIM_URL="http://127.0.0.1:$port"
export SIM_PUBLIC_URL="$SIM_URL"
export SIM_CLIENT_ID="SDKCHECK_CLIENT"
export SIM_CLIENT_SECRET="sdk-check-secret"
export SIM_CLIENT_VERSION="1"
export SIM_WEBHOOK_USERNAME="sdkcheck"
export SIM_WEBHOOK_PASSWORD="sdkcheck123"
export SIM_REFUND_DELAY_MS="200"
unset SIM_WEBHOOK_URL

log="$(mktemp)"
"$SIM_BIN" >"$log" 2>&1 &
sim_pid=$!
cleanup() {
  kill "$sim_pid" 2>/dev/null || true
  wait "$sim_pid" 2>/dev/null || true
  rm -f "$log"
}
trap cleanup EXIT

status=0
node check.mjs || status=$?
if [[ $status -ne 0 ]]; then
  echo "--- simulator log ---" >&2
  cat "$log" >&2
fi
exit "$status"
