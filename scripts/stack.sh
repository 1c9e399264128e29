# The one stack launcher, sourced by `make dev` (scripts/dev.sh), `make test` (scripts/test.sh:
# the database and SES emulator the Rust tests use) and everything that needs the whole stack
# on free ports (browser and SDK checks, prove, fuzz, bench). One shell file rather than an
# xtask crate: every caller is a shell script, and starting four processes needs no build.
#
# Building blocks, each starting its service unless the environment already points at one,
# and exporting where it is: `stack_db PORT [STORAGE]` (MONGODB_URI), `stack_ses PORT`
# (AWS_ENDPOINT_URL_SES, with SES_FROM verified), `stack_sim PORT` (PHONEPE_PG_URL, SIM_URL),
# `stack_api` (the API on $PORT, after seeding). `stack_up` composes them on free ports and
# exports API_URL, SIM_URL and tokens; `stack_down` stops whatever they started. Expects
# scripts/env.sh to be sourced and the debug binaries built (pitalya-dev, phonepe-sim), or
# STACK_BIN pointing at others.
STACK_PIDS=()
STACK_LOGS="${STACK_LOGS:-${TMPDIR:-/tmp}/pitalya-stack}"

stack_down() {
  for p in "${STACK_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  STACK_PIDS=()
}

stack_bin() { echo "${STACK_BIN:-$CARGO_TARGET_DIR/debug}"; }

# SecantusDB on PORT, unless MONGODB_URI is set. STORAGE is a directory (on disk, synced on
# every commit: an acknowledged write survives the database being killed) or, by default, a
# throw-away in-memory database.
stack_db() {
  local port="$1" storage="${2:-}"
  [ -z "${MONGODB_URI:-}" ] || return 0
  mkdir -p "$STACK_LOGS"
  local args=(--storage-path ':memory:')
  if [ -n "$storage" ]; then
    mkdir -p "$storage"
    args=(--storage-path "$storage" --sync-on-commit)
  fi
  local db_cmd=("$VENV/bin/secantusd-py" --host 127.0.0.1 --port "$port" "${args[@]}" --log-level WARNING)
  "${db_cmd[@]}" >"$STACK_LOGS/db.log" 2>&1 &
  STACK_PIDS+=($!)
  # STACK_DB_CMD (shell-quoted) restarts it on the same port and data, for callers that
  # SIGKILL it (make prove); its output goes to STACK_DB_LOG.
  export STACK_DB_PORT="$port" STACK_DB_PID=$! STACK_DB_LOG="$STACK_LOGS/db.log"
  STACK_DB_CMD=$(printf '%q ' "${db_cmd[@]}"); export STACK_DB_CMD
  wait_port "$port" 60
  export MONGODB_URI="mongodb://127.0.0.1:$port/?directConnection=true"
}

# The SES emulator (moto) on PORT, unless AWS_ENDPOINT_URL_SES is set, with the sender
# verified as SES requires. SES_FROM may carry a display name (`Pitalya <orders@…>`); the
# identity is the address inside the angle brackets.
stack_ses() {
  local port="$1"
  [ -z "${AWS_ENDPOINT_URL_SES:-}" ] || return 0
  mkdir -p "$STACK_LOGS"
  "$VENV/bin/moto_server" -H 127.0.0.1 -p "$port" >"$STACK_LOGS/moto.log" 2>&1 &
  STACK_PIDS+=($!)
  wait_port "$port" 30
  export AWS_ENDPOINT_URL_SES="http://127.0.0.1:$port"
  local sender="${SES_FROM##*<}"; sender="${sender%>}"
  "$VENV/bin/python" -c "import boto3, sys; boto3.client('ses', endpoint_url=sys.argv[1], region_name=sys.argv[2]).verify_email_identity(EmailAddress=sys.argv[3])" \
    "$AWS_ENDPOINT_URL_SES" "$AWS_REGION" "$sender"
}

# The PhonePe simulator on PORT, calling the API on $PORT back, unless PHONEPE_PG_URL is set.
stack_sim() {
  local port="$1"
  [ -z "${PHONEPE_PG_URL:-}" ] || return 0
  mkdir -p "$STACK_LOGS"
  SIM_PORT="$port" SIM_PUBLIC_URL="http://127.0.0.1:$port" SIM_WEBHOOK_URL="http://127.0.0.1:$PORT/payments/phonepe/webhook" \
    "$(stack_bin)/phonepe-sim" >"$STACK_LOGS/phonepe-sim.log" 2>&1 &
  STACK_PIDS+=($!)
  wait_port "$port" 30
  export SIM_URL="http://127.0.0.1:$port" PHONEPE_PG_URL="http://127.0.0.1:$port" PHONEPE_OAUTH_URL="http://127.0.0.1:$port"
}

# Seeds the demo catalog (never overwriting what is there) and serves every route on $PORT.
stack_api() {
  mkdir -p "$STACK_LOGS"
  LOG_FORMAT=text RUST_LOG=warn "$(stack_bin)/pitalya-dev" seed >/dev/null
  LOG_FORMAT="${LOG_FORMAT:-text}" "$(stack_bin)/pitalya-dev" serve >"$STACK_LOGS/api.log" 2>&1 &
  STACK_PIDS+=($!)
  wait_port "$PORT" 60
}

stack_up() {
  local bin; bin="$(stack_bin)"
  ensure_dev_keys
  stack_db "$(free_port)" "${STACK_DB_DIR:-}"
  export MONGODB_DB="${STACK_DB:-stack_$(date +%s)_$RANDOM}"
  stack_ses "$(free_port)"
  export PORT; PORT=$(free_port)
  export API_URL="http://127.0.0.1:$PORT"
  export PHONEPE_REDIRECT_URL="$API_URL/dev/return?orderId={orderId}"
  stack_sim "$(free_port)"
  export JOBS_INTERVAL_SECS="${JOBS_INTERVAL_SECS:-2}"
  # STACK_NO_API=1 leaves the API server to the caller (prove kills and restarts it): it
  # still gets the seeded catalog.
  if [ -z "${STACK_NO_API:-}" ]; then
    stack_api
  else
    LOG_FORMAT=text RUST_LOG=warn "$bin/pitalya-dev" seed >/dev/null
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
