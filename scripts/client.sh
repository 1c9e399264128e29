#!/usr/bin/env bash
# The typed TypeScript client in clients/typescript (docs/storefront.md).
#   scripts/client.sh           install the pinned tools, regenerate src/schema.d.ts from
#                               openapi.yaml, type-check src/ and examples/   (make client)
#   scripts/client.sh --check   the same, but fail if the checked-in src/schema.d.ts differs from
#                               a fresh generation instead of rewriting it     (make test)
# Both then pack the package (npm pack: src/ compiled into dist/), run test/*.test.mjs
# (node --test) against dist/index.js, and install the tarball into a fresh ESM project that
# imports it on node and type-checks against its declarations.
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

echo "==> clients/typescript: npm pack (prepack compiles src/ into dist/: ES modules and .d.ts)"
pack="$(mktemp -d)"
trap 'rm -rf "$pack" "${tmp:-}"' EXIT
npm pack --silent --pack-destination "$pack" >/dev/null
tarball=("$pack"/pitalya-client-*.tgz)

echo "==> clients/typescript: node --test (the packed dist/index.js against a fake fetch)"
PITALYA_CLIENT_BUILD="$dir/dist/index.js" node --test --test-reporter=spec test/*.test.mjs

# What a storefront gets from the registry: only the tarball, no bundler, no TypeScript
# sources. A fresh ESM project installs it (openapi-fetch comes along as a dependency),
# imports it on node and type-checks against its declarations.
echo "==> clients/typescript: a fresh ESM project installs ${tarball[0]##*/}, imports it and type-checks against it"
mkdir "$pack/app"
cd "$pack/app"
echo '{"name":"storefront","private":true,"type":"module"}' >package.json
npm install --prefer-offline --no-package-lock --loglevel=error "${tarball[0]}"
node --input-type=module -e '
import { createPitalyaClient, isProblem, PitalyaProblem } from "@pitalya/client";
const api = createPitalyaClient({ baseUrl: "http://api.test", getToken: () => "tok",
  fetch: async (req) => req.headers.get("authorization") === "Bearer tok"
    ? new Response(JSON.stringify({ items: [], nextCursor: null }), { headers: { "content-type": "application/json" } })
    : new Response("{}", { status: 500 }) });
const page = await api.listProducts({ limit: 1 });
if (!Array.isArray(page.items) || typeof isProblem !== "function" || typeof PitalyaProblem !== "function")
  throw new Error("the packed client did not work: " + JSON.stringify(page));
console.log("  the packed @pitalya/client imports and calls on node");'
cat >storefront.ts <<'TS'
import { createPitalyaClient, type Order, type Paise } from "@pitalya/client";
const api = createPitalyaClient({ baseUrl: "http://127.0.0.1:3000", getToken: () => null });
export const total = async (id: string): Promise<Paise> => ((await api.getOrder(id)) satisfies Order).total;
TS
"$dir/node_modules/.bin/tsc" --noEmit --strict --module NodeNext --moduleResolution NodeNext --lib ES2022,DOM storefront.ts
echo "  tsc --strict type-checks a storefront against the packed declarations"
