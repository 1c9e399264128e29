# Sourced by scripts that need the whole stack running on free ports (browser check, prove,
# bench, fuzz): `stack_up` starts what is missing and exports API_URL, SIM_URL and tokens;
# `stack_down` stops what it started. Expects scripts/env.sh to be sourced and the debug
# binaries built (pitalya-dev, phonepe-sim).
STACK_PIDS=()
STACK_LOGS="${STACK_LOGS:-${TMPDIR:-/tmp}/pitalya-stack}"

stack_down() {
  for p in "${STACK_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  STACK_PIDS=()
}

stack_up() {
  local bin="${STACK_BIN:-$CARGO_TARGET_DIR/debug}"
  mkdir -p "$STACK_LOGS"
  ensure_dev_keys
  if [ -z "${MONGODB_URI:-}" ]; then
    local db_port; db_port=$(free_port)
    # STACK_DB_DIR: on disk and synced on every commit, for runs that kill and restart the
    # database (make prove); otherwise a throw-away in-memory one.
    local storage=(--storage-path ':memory:')
    if [ -n "${STACK_DB_DIR:-}" ]; then
      mkdir -p "$STACK_DB_DIR"
      storage=(--storage-path "$STACK_DB_DIR" --sync-on-commit)
    fi
    local db_cmd=("$VENV/bin/secantusd-py" --host 127.0.0.1 --port "$db_port" "${storage[@]}" --log-level WARNING)
    "${db_cmd[@]}" >"$STACK_LOGS/db.log" 2>&1 &
    STACK_PIDS+=($!)
    # STACK_DB_CMD (shell-quoted) restarts it on the same port and data, for callers that
    # SIGKILL it (make prove); its output goes to STACK_DB_LOG.
    export STACK_DB_PORT="$db_port" STACK_DB_PID=$! STACK_DB_LOG="$STACK_LOGS/db.log"
    STACK_DB_CMD=$(printf '%q ' "${db_cmd[@]}"); export STACK_DB_CMD
    wait_port "$db_port" 60
    export MONGODB_URI="mongodb://127.0.0.1:$db_port/?directConnection=true"
  fi
  export MONGODB_DB="${STACK_DB:-stack_$(date +%s)_$RANDOM}"
  if [ -z "${AWS_ENDPOINT_URL_SES:-}" ]; then
    local moto; moto=$(free_port)
    "$VENV/bin/moto_server" -H 127.0.0.1 -p "$moto" >"$STACK_LOGS/moto.log" 2>&1 &
    STACK_PIDS+=($!)
    wait_port "$moto" 30
    export AWS_ENDPOINT_URL_SES="http://127.0.0.1:$moto"
    "$VENV/bin/python" -c "import boto3; boto3.client('ses', endpoint_url='$AWS_ENDPOINT_URL_SES', region_name='$AWS_REGION').verify_email_identity(EmailAddress='$SES_FROM')"
  fi
  export PORT; PORT=$(free_port)
  export API_URL="http://127.0.0.1:$PORT"
  export PHONEPE_REDIRECT_URL="$API_URL/health?orderId={orderId}"
  local sim_port; sim_port=$(free_port)
  SIM_PORT="$sim_port" SIM_PUBLIC_URL="http://127.0.0.1:$sim_port" SIM_WEBHOOK_URL="$API_URL/payments/phonepe/webhook" \
    "$bin/phonepe-sim" >"$STACK_LOGS/phonepe-sim.log" 2>&1 &
  STACK_PIDS+=($!)
  wait_port "$sim_port" 30
  export SIM_URL="http://127.0.0.1:$sim_port" PHONEPE_PG_URL="http://127.0.0.1:$sim_port" PHONEPE_OAUTH_URL="http://127.0.0.1:$sim_port"
  LOG_FORMAT=text RUST_LOG=warn "$bin/pitalya-dev" seed >/dev/null
  export JOBS_INTERVAL_SECS="${JOBS_INTERVAL_SECS:-2}"
  # STACK_NO_API=1 leaves the API server to the caller (prove kills and restarts it).
  if [ -z "${STACK_NO_API:-}" ]; then
    LOG_FORMAT=text "$bin/pitalya-dev" serve >"$STACK_LOGS/api.log" 2>&1 &
    STACK_PIDS+=($!)
    wait_port "$PORT" 60
  fi
  CUSTOMER_TOKEN=$("$bin/pitalya-dev" token --user "user_stack_$RANDOM" --email shopper@example.com --key "$DEV_KEY_DIR/private.pem")
  ADMIN_TOKEN=$("$bin/pitalya-dev" token --user user_stack_owner --admin --key "$DEV_KEY_DIR/private.pem")
  export CUSTOMER_TOKEN ADMIN_TOKEN
}

# Puts one unit of a seeded product in the customer's cart and checks out; prints the order id.
stack_place_order() {
  python3 - "$API_URL" "$CUSTOMER_TOKEN" <<'PY'
import json, sys, urllib.request
api, token = sys.argv[1], sys.argv[2]
def call(method, path, body=None):
    req = urllib.request.Request(api + path, method=method, data=json.dumps(body).encode() if body is not None else None,
        headers={"authorization": "Bearer " + token, "content-type": "application/json"})
    with urllib.request.urlopen(req) as r:
        return json.load(r)
pid = call("GET", "/products/kuber-brass-urli")["id"]
call("POST", "/cart/add", {"productId": pid, "quantity": 1})
order = call("POST", "/orders/create", {"shippingAddress": {"name": "Asha Iyer", "phone": "9876543210", "line1": "12 Temple Street",
    "city": "Chennai", "state": "Tamil Nadu", "pincode": "600004"}})
print(order["id"])
PY
}
