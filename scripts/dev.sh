#!/usr/bin/env bash
# `make dev`: the whole stack on this machine. SecantusDB (unless MONGODB_URI is set), the
# SES emulator (moto), the PhonePe simulator and every route on 127.0.0.1:$PORT. Ctrl-C
# stops everything this script started.
set -euo pipefail
source "$(dirname "$0")/env.sh"
DB_PORT="${DB_PORT:-27019}"

# Before anything starts or any log is opened: a port already taken is most likely another
# `make dev`, which must keep running undisturbed (its log, its data, its tokens), and a
# stack half-started on someone else's ports would print a banner for services it is not.
taken=()
port_taken "$PORT" && taken+=("$PORT (PORT, the API)")
[ -n "${PHONEPE_PG_URL:-}" ] || ! port_taken "$SIM_PORT" || taken+=("$SIM_PORT (SIM_PORT, the PhonePe simulator)")
[ -n "${AWS_ENDPOINT_URL_SES:-}" ] || ! port_taken "$MOTO_PORT" || taken+=("$MOTO_PORT (MOTO_PORT, the SES emulator)")
[ -n "${MONGODB_URI:-}" ] || ! port_taken "$DB_PORT" || taken+=("$DB_PORT (DB_PORT, SecantusDB)")
if [ ${#taken[@]} -gt 0 ]; then
  {
    echo "make dev: nothing started; these ports are already taken on 127.0.0.1:"
    printf '  %s\n' "${taken[@]}"
    echo "Another make dev is probably running there; it was left alone. Use that one, stop it"
    echo "(Ctrl-C in its shell), or run a second stack on free ports, for example:"
    echo "  PORT=$(free_port) SIM_PORT=$(free_port) MOTO_PORT=$(free_port) DB_PORT=$(free_port) make dev"
  } >&2
  exit 1
fi

# The default ports keep .data/logs and .data/db; a stack on other ports keeps its own, so
# it never truncates the logs or shares the database files of the one on the defaults.
suffix=""
[ "$PORT" = 3000 ] || suffix="-$PORT"
STACK_LOGS="$DATA/logs$suffix"
DB_DIR="$DATA/db"
[ "$DB_PORT" = 27019 ] || DB_DIR="$DATA/db-$DB_PORT"

"$ROOT/scripts/tools.sh"
mkdir -p "$STACK_LOGS"

echo "==> building (debug)"
cargo build --quiet -p dev-server -p phonepe-sim

source "$ROOT/scripts/stack.sh"
stopping() { trap - INT TERM EXIT; echo; echo "==> stopping"; stack_down; }
trap stopping INT TERM EXIT

ensure_dev_keys

LOGS_SHOWN="${STACK_LOGS#"$ROOT/"}"
if [ -z "${MONGODB_URI:-}" ]; then
  echo "==> SecantusDB on 127.0.0.1:$DB_PORT (data in ${DB_DIR#"$ROOT/"}, kept across restarts, synced on every commit)"
else
  echo "==> using MONGODB_URI from the environment (no embedded database)"
fi
# --sync-on-commit (a storage directory): an order the API answered 201 for survives the
# database being killed.
stack_db "$DB_PORT" "$DB_DIR"

[ -n "${AWS_ENDPOINT_URL_SES:-}" ] || echo "==> SES emulator (moto) on 127.0.0.1:$MOTO_PORT"
stack_ses "$MOTO_PORT"

[ -n "${PHONEPE_PG_URL:-}" ] || echo "==> PhonePe simulator on 127.0.0.1:$SIM_PORT"
stack_sim "$SIM_PORT"

echo "==> seeding the demo catalog and coupons (existing products and coupons are left as they are)"
echo "==> API on http://127.0.0.1:$PORT (logs: $LOGS_SHOWN/api.log)"
stack_api
BIN="$(stack_bin)"

CUSTOMER_TOKEN=$("$BIN/pitalya-dev" token --user user_demo_customer --email asha@example.com --key "$DEV_KEY_DIR/private.pem")
ADMIN_TOKEN=$("$BIN/pitalya-dev" token --user user_demo_owner --admin --email owner@pitalya.local --key "$DEV_KEY_DIR/private.pem")
B="http://127.0.0.1:$PORT"
cat <<TXT

Pitalya is running on $B  (Ctrl-C stops everything)

  PhonePe simulator : ${PHONEPE_PG_URL}
  SES emulator      : ${AWS_ENDPOINT_URL_SES}   (sent mail: curl -s ${AWS_ENDPOINT_URL_SES}/moto-api/data.json)
  MongoDB           : ${MONGODB_URI%%\?*} / $MONGODB_DB
  Seller            : $SELLER_NAME, GSTIN $SELLER_GSTIN (shipping $SHIPPING_FEE paise, free from $FREE_SHIPPING_MIN; 0 = never)
  Logs              : $LOGS_SHOWN/

Tokens (valid 24 h; make more with: make token USER=user_123 [ADMIN=1]):
  export CUSTOMER_TOKEN=$CUSTOMER_TOKEN
  export ADMIN_TOKEN=$ADMIN_TOKEN

Owner console (the token is in the fragment, which the browser never sends; docs/console.md):
  $B/admin#token=$ADMIN_TOKEN

Next, in another bash shell at the repository root: README.md's "A screenful of curl", then
docs/walkthrough.md (every call). Both mint their own shopper, so they can be pasted again and
again; on ports other than the defaults, set their B=, SIM= and SES= to the URLs above.
After Pay on the simulator's page, the browser lands on $B/dev/return?orderId=…,
which shows the order until it is paid.

TXT
wait
