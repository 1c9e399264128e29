#!/usr/bin/env bash
# `make dev`: the whole stack on this machine. SecantusDB (unless MONGODB_URI is set), the
# SES emulator (moto), the PhonePe simulator and every route on 127.0.0.1:$PORT. Ctrl-C
# stops everything this script started.
set -euo pipefail
source "$(dirname "$0")/env.sh"
"$ROOT/scripts/tools.sh"
mkdir -p "$DATA/logs"

echo "==> building (debug)"
cargo build --quiet -p dev-server -p phonepe-sim
BIN="$CARGO_TARGET_DIR/debug"

pids=()
cleanup() {
  trap - INT TERM EXIT
  echo; echo "==> stopping"
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup INT TERM EXIT

ensure_dev_keys

if [ -z "${MONGODB_URI:-}" ]; then
  DB_PORT="${DB_PORT:-27019}"
  echo "==> SecantusDB on 127.0.0.1:$DB_PORT (data in .data/db, kept across restarts, synced on every commit)"
  # --sync-on-commit: an order the API answered 201 for survives the database being killed.
  "$VENV/bin/secantusd-py" --host 127.0.0.1 --port "$DB_PORT" --storage-path "$DATA/db" --sync-on-commit --log-level WARNING \
    >"$DATA/logs/secantusdb.log" 2>&1 &
  pids+=($!)
  wait_port "$DB_PORT" 60
  export MONGODB_URI="mongodb://127.0.0.1:$DB_PORT/?directConnection=true"
else
  echo "==> using MONGODB_URI from the environment (no embedded database)"
fi

if [ -z "${AWS_ENDPOINT_URL_SES:-}" ]; then
  echo "==> SES emulator (moto) on 127.0.0.1:$MOTO_PORT"
  "$VENV/bin/moto_server" -H 127.0.0.1 -p "$MOTO_PORT" >"$DATA/logs/moto.log" 2>&1 &
  pids+=($!)
  wait_port "$MOTO_PORT" 30
  export AWS_ENDPOINT_URL_SES="http://127.0.0.1:$MOTO_PORT"
  "$VENV/bin/python" - <<PY
import boto3
boto3.client("ses", endpoint_url="$AWS_ENDPOINT_URL_SES", region_name="$AWS_REGION").verify_email_identity(EmailAddress="${SES_FROM##*<}".rstrip(">"))
PY
fi

if [ -z "${PHONEPE_PG_URL:-}" ]; then
  echo "==> PhonePe simulator on 127.0.0.1:$SIM_PORT"
  SIM_PUBLIC_URL="http://127.0.0.1:$SIM_PORT" SIM_WEBHOOK_URL="http://127.0.0.1:$PORT/payments/phonepe/webhook" \
    "$BIN/phonepe-sim" >"$DATA/logs/phonepe-sim.log" 2>&1 &
  pids+=($!)
  wait_port "$SIM_PORT" 30
  export PHONEPE_PG_URL="http://127.0.0.1:$SIM_PORT" PHONEPE_OAUTH_URL="http://127.0.0.1:$SIM_PORT"
fi

echo "==> seeding the demo catalog and coupons"
LOG_FORMAT=text RUST_LOG=warn "$BIN/pitalya-dev" seed

echo "==> API on http://127.0.0.1:$PORT (logs: .data/logs/api.log)"
LOG_FORMAT="${LOG_FORMAT:-text}" "$BIN/pitalya-dev" serve >"$DATA/logs/api.log" 2>&1 &
pids+=($!)
wait_port "$PORT" 60

CUSTOMER_TOKEN=$("$BIN/pitalya-dev" token --user user_demo_customer --email asha@example.com --key "$DEV_KEY_DIR/private.pem")
ADMIN_TOKEN=$("$BIN/pitalya-dev" token --user user_demo_owner --admin --email owner@pitalya.local --key "$DEV_KEY_DIR/private.pem")
B="http://127.0.0.1:$PORT"
cat <<TXT

Pitalya is running on $B  (Ctrl-C stops everything)

  PhonePe simulator : ${PHONEPE_PG_URL}
  SES emulator      : ${AWS_ENDPOINT_URL_SES}   (sent mail: curl -s ${AWS_ENDPOINT_URL_SES}/moto-api/data.json)
  MongoDB           : ${MONGODB_URI%%\?*} / $MONGODB_DB
  Seller            : $SELLER_NAME, GSTIN $SELLER_GSTIN (shipping $SHIPPING_FEE paise, free from $FREE_SHIPPING_MIN; 0 = never)
  Logs              : .data/logs/

Tokens (valid 24 h; make more with: make token USER=user_123 [ADMIN=1]):
  export CUSTOMER_TOKEN=$CUSTOMER_TOKEN
  export ADMIN_TOKEN=$ADMIN_TOKEN

Owner console (the token is in the fragment, which the browser never sends; docs/console.md):
  $B/admin#token=$ADMIN_TOKEN

Walk-through (paste into another shell after the two exports above):
  curl -s $B/health
  curl -s "$B/products?limit=3"
  curl -s $B/products/kuber-brass-urli
  PID=\$(curl -s $B/products/kuber-brass-urli | python3 -c 'import sys,json; print(json.load(sys.stdin)["id"])')
  curl -s -H "Authorization: Bearer \$CUSTOMER_TOKEN" -H 'content-type: application/json' -d "{\"productId\":\"\$PID\",\"quantity\":2}" $B/cart/add
  curl -s -H "Authorization: Bearer \$CUSTOMER_TOKEN" -H 'content-type: application/json' -d '{"code":"welcome10"}' $B/checkout/apply-coupon
  curl -s -H "Authorization: Bearer \$CUSTOMER_TOKEN" -H 'content-type: application/json' -H 'Idempotency-Key: demo-1' \\
       -d '{"couponCode":"WELCOME10","shippingAddress":{"name":"Asha Iyer","phone":"+919876543210","line1":"12 Temple Street","city":"Chennai","state":"Tamil Nadu","pincode":"600004"}}' $B/orders/create
  curl -s -H "Authorization: Bearer \$CUSTOMER_TOKEN" $B/orders/my
  (README.md continues with payment, shipping and the admin flow.)

TXT
wait
