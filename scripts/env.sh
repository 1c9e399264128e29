# Sourced by the Makefile's scripts: local defaults for every setting in docs/configuration.md. Anything already set in the environment wins.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export ROOT
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
VENV="$ROOT/.venv"
DATA="$ROOT/.data"

export PORT="${PORT:-3000}"
export MONGODB_DB="${MONGODB_DB:-pitalya}"
export CLERK_ISSUER="${CLERK_ISSUER:-https://clerk.pitalya.local}"
export DEV_KEY_DIR="${DEV_KEY_DIR:-$DATA/dev-keys}"
export ORDER_PAYMENT_TIMEOUT_MINUTES="${ORDER_PAYMENT_TIMEOUT_MINUTES:-30}"

# A sample seller registered in Tamil Nadu (a well-formed GSTIN, check character and all).
export SELLER_NAME="${SELLER_NAME:-Pitalya Handicrafts Private Limited}"
export SELLER_GSTIN="${SELLER_GSTIN:-33AABCP1234Q1ZE}"
export SELLER_ADDRESS="${SELLER_ADDRESS:-14 Car Street, Mylapore, Chennai, Tamil Nadu 600004}"
export INVOICE_PREFIX="${INVOICE_PREFIX:-PIT}"
export CREDIT_NOTE_PREFIX="${CREDIT_NOTE_PREFIX:-PCN}"
export SHIPPING_FEE="${SHIPPING_FEE:-0}"
export FREE_SHIPPING_MIN="${FREE_SHIPPING_MIN:-0}"

export SIM_PORT="${SIM_PORT:-4010}"
export PHONEPE_ENV="${PHONEPE_ENV:-sandbox}"
export PHONEPE_CLIENT_ID="${PHONEPE_CLIENT_ID:-PITALYA_DEV_CLIENT}"
export PHONEPE_CLIENT_SECRET="${PHONEPE_CLIENT_SECRET:-dev-client-secret}"
export PHONEPE_CLIENT_VERSION="${PHONEPE_CLIENT_VERSION:-1}"
export PHONEPE_WEBHOOK_USERNAME="${PHONEPE_WEBHOOK_USERNAME:-pitalya_hook}"
export PHONEPE_WEBHOOK_PASSWORD="${PHONEPE_WEBHOOK_PASSWORD:-hookpass123}"
# Not `${PHONEPE_REDIRECT_URL:-…{orderId}}`: bash ends that default at the first `}`, and the
# second one lands on any URL set by hand (`…?orderId={orderId}}`).
# The default is the dev server's own return page, which shows the order until it is paid.
if [ -z "${PHONEPE_REDIRECT_URL:-}" ]; then
  PHONEPE_REDIRECT_URL="http://127.0.0.1:$PORT/dev/return?orderId={orderId}"
fi
export PHONEPE_REDIRECT_URL

export MOTO_PORT="${MOTO_PORT:-4566}"
export SES_FROM="${SES_FROM:-orders@pitalya.local}"
export AWS_REGION="${AWS_REGION:-ap-south-1}"
# moto accepts any credentials; real AWS ones are never needed locally.
export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-testing}"
export AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-testing}"

# A free TCP port on 127.0.0.1.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# Whether 127.0.0.1:$1 is taken: something listens there. SO_REUSEADDR, as the servers bind
# with, so the TIME_WAIT connections a just-stopped make dev leaves behind do not count.
port_taken() {
  ! python3 -c 'import socket,sys; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1",int(sys.argv[1]))); s.close()' "$1" 2>/dev/null
}

# Waits until something accepts connections on 127.0.0.1:$1 (or gives up after $2 seconds).
wait_port() {
  local port=$1 limit=${2:-30} i=0
  until python3 -c "import socket,sys; s=socket.socket(); s.settimeout(0.5); sys.exit(s.connect_ex(('127.0.0.1',$port)))" 2>/dev/null; do
    i=$((i+1)); [ $i -ge $((limit*5)) ] && { echo "nothing answered on port $port after ${limit}s" >&2; return 1; }
    sleep 0.2
  done
}

# Makes the dev RS256 key pair the local stack trusts (once; kept in .data/).
ensure_dev_keys() {
  mkdir -p "$DEV_KEY_DIR"
  if [ ! -f "$DEV_KEY_DIR/private.pem" ]; then
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$DEV_KEY_DIR/private.pem" 2>/dev/null
    openssl pkey -in "$DEV_KEY_DIR/private.pem" -pubout -out "$DEV_KEY_DIR/public.pem"
  fi
  if [ -z "${CLERK_JWT_KEY:-}" ] && [ -z "${CLERK_JWKS_URL:-}" ]; then
    CLERK_JWT_KEY="$(cat "$DEV_KEY_DIR/public.pem")"
    export CLERK_JWT_KEY
  fi
}

# Installs the pinned requirements file $2 into the virtualenv $1 when the venv is missing or
# the file changed since the last install; a no-op otherwise.
ensure_venv() {
  local venv=$1 requirements=$2 stamp="$1/.installed"
  if [ ! -f "$stamp" ] || [ "$requirements" -nt "$stamp" ]; then
    echo "==> installing $(basename "$requirements") into $(basename "$venv")"
    [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
    touch "$stamp"
  fi
}
