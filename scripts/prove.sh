#!/usr/bin/env bash
# `make prove` (and its short form in `make test`): the invariant suite of scripts/prove/,
# against a stack of its own on free ports with PROVE_INSTANCES (3) API instances on one
# database, the simulator slow on pay, status and refunds for the middle of the traffic, and
# the owner refunding: once with everything left running, and once with API instances
# SIGKILLed and restarted at random moments and the database (on disk, synced on commit)
# SIGKILLed and restarted too. PROVE_SHORT=1 is the CI-sized run.
# Writes bench/prove.md (or $PROVE_REPORT).
set -euo pipefail
source "$(dirname "$0")/env.sh"
source "$ROOT/scripts/stack.sh"
"$ROOT/scripts/tools.sh"
cd "$ROOT"

if [ -n "${PROVE_SHORT:-}" ]; then
  customers=${PROVE_CUSTOMERS:-12}; orders=${PROVE_ORDERS:-4}; duration=${PROVE_DURATION:-25}
  report=${PROVE_REPORT:-$CARGO_TARGET_DIR/prove-short.md}
  db_kill_every=${PROVE_DB_KILL_EVERY:-"8 14"}
else
  customers=${PROVE_CUSTOMERS:-40}; orders=${PROVE_ORDERS:-8}; duration=${PROVE_DURATION:-120}
  report=${PROVE_REPORT:-$ROOT/bench/prove.md}
  db_kill_every=${PROVE_DB_KILL_EVERY:-"20 40"}
fi
instances=${PROVE_INSTANCES:-3}
# Each instance's jobs loop interval (cycled): runs of different instances overlap.
jobs_intervals=${PROVE_JOBS_INTERVALS:-2,2,3}
# The simulator's slow knobs, picked at random every few seconds in the slow phase (ms):
# refunds slower than a jobs interval and slower than the PhonePe client's 8 s timeout.
slow_refund=${PROVE_SLOW_REFUND_MS:-0,3000,3000,12000}
slow_status=${PROVE_SLOW_STATUS_MS:-0,0,1500,4000}
slow_pay=${PROVE_SLOW_PAY_MS:-0,0,1000,4000}
seed=${PROVE_SEED:-$(date +%s)}

# PROVE_NO_BUILD=1 skips the build and runs the binaries already in $(stack_bin) (STACK_BIN,
# else the debug build): for when another build holds the target directory's lock.
if [ -z "${PROVE_NO_BUILD:-}" ]; then
  cargo build --quiet -p dev-server -p phonepe-sim
fi
bin="$(stack_bin)"
# A one-minute payment window so abandoned orders expire within the run.
export ORDER_PAYMENT_TIMEOUT_MINUTES=1 JOBS_INTERVAL_SECS=2 STACK_NO_API=1 RUST_LOG=warn LOG_FORMAT=text
trap stack_down EXIT

mkdir -p "$(dirname "$report")"
{
  echo "# Invariant suite (\`make prove\`)"
  echo
  echo "$(date -u +%Y-%m-%dT%H:%MZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)," \
    "$(nproc) cores, SecantusDB $("$VENV/bin/pip" show secantusdb 2>/dev/null | awk '/^Version/{print $2}')," \
    "$( [ -n "${STACK_BIN:-}" ] && echo "binaries from \`$STACK_BIN\`" || echo "debug build")."
  echo "Re-run: \`PROVE_SEED=<seed> make prove\`. What each invariant means: \`scripts/prove/invariants.py\`."
  echo
} >"$report"

# Each mode gets a stack of its own: stack_up reuses any service the environment points at,
# so what the previous mode's stack exported (its database, SES and simulator, all stopped by
# stack_down) is put back as it was before the next one comes up.
orig_uri="${MONGODB_URI:-}" orig_ses="${AWS_ENDPOINT_URL_SES:-}"
orig_pg="${PHONEPE_PG_URL:-}" orig_oauth="${PHONEPE_OAUTH_URL:-}" orig_sim="${SIM_URL:-}"
status=0
for mode in calm kills; do
  unset STACK_DB_PID STACK_DB_PORT STACK_DB_CMD STACK_DB_LOG
  if [ "$mode" = kills ]; then
    # A database of its own, on disk and synced on every commit, so it can be SIGKILLed.
    db_dir="$STACK_LOGS/prove-db-$seed-$$"
    rm -rf "$db_dir"
    export MONGODB_URI=''
    STACK_DB_DIR="$db_dir" STACK_DB="prove_${mode}_$seed" stack_up
  else
    STACK_DB="prove_${mode}_$seed" stack_up
  fi
  flags=(--slow --slow-refund-ms "$slow_refund" --slow-status-ms "$slow_status" --slow-pay-ms "$slow_pay")
  if [ "$mode" = kills ]; then
    # shellcheck disable=SC2206
    flags+=(--kills --db-kills --db-cmd "$STACK_DB_CMD" --db-pid "$STACK_DB_PID"
      --db-port "$STACK_DB_PORT" --db-log "$STACK_DB_LOG" --db-kill-every $db_kill_every)
  fi
  PYTHONPATH="$ROOT/scripts${PYTHONPATH:+:$PYTHONPATH}" "$VENV/bin/python" -m prove \
    --api "$API_URL" --sim "$SIM_URL" --ses "$AWS_ENDPOINT_URL_SES" \
    --mongo "$MONGODB_URI" --db "$MONGODB_DB" --port "$PORT" \
    --instances "$instances" --jobs-intervals "$jobs_intervals" \
    --serve "$bin/pitalya-dev serve" \
    --token-cmd "$bin/pitalya-dev token --key $DEV_KEY_DIR/private.pem" \
    --customers "$customers" --orders "$orders" --duration "$duration" --seed "$seed" \
    --settle-timeout "${PROVE_SETTLE_TIMEOUT:-300}" \
    --log "$STACK_LOGS/prove-api-$mode.log" --report "$report" \
    --title "$( [ "$mode" = kills ] && echo "API instances and the database SIGKILLed at random moments" || echo "$instances API instances left running")" \
    "${flags[@]}" || status=1
  stack_down
  if [ "$mode" = kills ]; then rm -rf "$db_dir"; fi
  export MONGODB_URI="$orig_uri" AWS_ENDPOINT_URL_SES="$orig_ses"
  export PHONEPE_PG_URL="$orig_pg" PHONEPE_OAUTH_URL="$orig_oauth" SIM_URL="$orig_sim"
done
echo "report: $report"
exit $status
