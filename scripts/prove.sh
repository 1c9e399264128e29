#!/usr/bin/env bash
# `make prove` (and its short form in `make test`): the invariant suite of scripts/prove.py,
# once with the API left alone and once with it SIGKILLed and restarted at random moments,
# against a stack of its own on free ports. PROVE_SHORT=1 is the CI-sized run.
# Writes bench/prove.md (or $PROVE_REPORT).
set -euo pipefail
source "$(dirname "$0")/env.sh"
source "$ROOT/scripts/stack.sh"
"$ROOT/scripts/tools.sh"
cd "$ROOT"

if [ -n "${PROVE_SHORT:-}" ]; then
  customers=${PROVE_CUSTOMERS:-12}; orders=${PROVE_ORDERS:-4}; duration=${PROVE_DURATION:-25}
  report=${PROVE_REPORT:-$CARGO_TARGET_DIR/prove-short.md}
else
  customers=${PROVE_CUSTOMERS:-40}; orders=${PROVE_ORDERS:-8}; duration=${PROVE_DURATION:-120}
  report=${PROVE_REPORT:-$ROOT/bench/prove.md}
fi
seed=${PROVE_SEED:-$(date +%s)}

cargo build --quiet -p dev-server -p phonepe-sim
bin="$CARGO_TARGET_DIR/debug"
# A one-minute payment window so abandoned orders expire within the run.
export ORDER_PAYMENT_TIMEOUT_MINUTES=1 JOBS_INTERVAL_SECS=2 STACK_NO_API=1 RUST_LOG=warn LOG_FORMAT=text
trap stack_down EXIT

mkdir -p "$(dirname "$report")"
{
  echo "# Invariant suite (\`make prove\`)"
  echo
  echo "$(date -u +%Y-%m-%dT%H:%MZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)," \
    "$(nproc) cores, SecantusDB $("$VENV/bin/pip" show secantusdb 2>/dev/null | awk '/^Version/{print $2}'), debug build."
  echo "Re-run: \`PROVE_SEED=<seed> make prove\`. What each invariant means: \`scripts/prove.py\`."
  echo
} >"$report"

orig_uri="${MONGODB_URI:-}" orig_ses="${AWS_ENDPOINT_URL_SES:-}"
status=0
for mode in calm kills; do
  STACK_DB="prove_${mode}_$seed" stack_up
  flags=()
  [ "$mode" = kills ] && flags+=(--kills)
  "$VENV/bin/python" "$ROOT/scripts/prove.py" \
    --api "$API_URL" --sim "$SIM_URL" --ses "$AWS_ENDPOINT_URL_SES" \
    --mongo "$MONGODB_URI" --db "$MONGODB_DB" --port "$PORT" \
    --serve "$bin/pitalya-dev serve" \
    --token-cmd "$bin/pitalya-dev token --key $DEV_KEY_DIR/private.pem" \
    --customers "$customers" --orders "$orders" --duration "$duration" --seed "$seed" \
    --log "$STACK_LOGS/prove-api-$mode.log" --report "$report" \
    --title "$( [ "$mode" = kills ] && echo "API SIGKILLed at random moments" || echo "API left running")" \
    "${flags[@]}" || status=1
  stack_down
  export MONGODB_URI="$orig_uri" AWS_ENDPOINT_URL_SES="$orig_ses"
done
echo "report: $report"
exit $status
