#!/usr/bin/env bash
# `make token USER=user_123 [ADMIN=1] [EMAIL=a@b.c]`: a session token the local stack accepts.
set -euo pipefail
source "$(dirname "$0")/env.sh"
ensure_dev_keys
cargo build --quiet -p dev-server
args=(token --user "${1:?usage: token.sh USER [ADMIN]}" --key "$DEV_KEY_DIR/private.pem")
[ "${2:-}" = "1" ] && args+=(--admin)
[ -n "${3:-}" ] && args+=(--email "$3")
"$CARGO_TARGET_DIR/debug/pitalya-dev" "${args[@]}"
