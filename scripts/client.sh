#!/usr/bin/env bash
# The typed TypeScript client in clients/typescript (docs/storefront.md).
#   scripts/client.sh           install the pinned tools, regenerate src/schema.d.ts from
#                               openapi.yaml, type-check src/ and examples/   (make client)
#   scripts/client.sh --check   the same, but fail if the checked-in src/schema.d.ts differs from
#                               a fresh generation instead of rewriting it     (make test)
# Both then run test/*.test.mjs (node --test) against src/index.ts compiled to JavaScript.
# The versions (typescript, openapi-typescript, openapi-fetch) are pinned exactly in
# clients/typescript/package.json and package-lock.json; only node and npm need to be installed.
set -euo pipefail
source "$(dirname "$0")/env.sh"

check=0
case "${1:-}" in
  --check) check=1 ;;
  "") ;;
  *) echo "usage: scripts/client.sh [--check]" >&2; exit 2 ;;
esac

for tool in node npm; do
  command -v "$tool" >/dev/null || { echo "node and npm are required for the TypeScript client (https://nodejs.org)" >&2; exit 1; }
done

dir="$ROOT/clients/typescript"
cd "$dir"
export NO_UPDATE_NOTIFIER=1 npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false

echo "==> clients/typescript: npm $( [[ -f package-lock.json ]] && echo ci || echo install )"
if [[ -f package-lock.json ]]; then
  npm ci --prefer-offline --loglevel=error
else
  npm install --save-exact --loglevel=error
fi

generate() { # $1: output file
  node_modules/.bin/openapi-typescript "$ROOT/openapi.yaml" --output "$1"
}

if (( check )); then
  echo "==> clients/typescript: src/schema.d.ts matches openapi.yaml"
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  generate "$tmp/schema.d.ts"
  if ! diff -u src/schema.d.ts "$tmp/schema.d.ts" >"$tmp/drift.diff"; then
    head -n 60 "$tmp/drift.diff" >&2
    echo "clients/typescript/src/schema.d.ts is out of date with openapi.yaml: run \`make client\` and commit it" >&2
    exit 1
  fi
else
  echo "==> clients/typescript: regenerate src/schema.d.ts from openapi.yaml"
  generate src/schema.d.ts
fi

echo "==> clients/typescript: tsc --noEmit (src/, examples/)"
node_modules/.bin/tsc --noEmit -p tsconfig.json

echo "==> clients/typescript: node --test (the client against a fake fetch)"
build="$dir/node_modules/.cache/pitalya-client"
rm -rf "$build"
node_modules/.bin/tsc --outDir "$build" --target ES2022 --lib ES2022,DOM --module NodeNext \
  --moduleResolution NodeNext --strict --skipLibCheck src/index.ts
PITALYA_CLIENT_BUILD="$build/index.js" node --test --test-reporter=spec test/*.test.mjs
