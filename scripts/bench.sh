#!/usr/bin/env bash
# `make bench`: release-builds every function and a lambda_http hello-world, measures cold
# start, invocation latency and memory under a local Lambda runtime API, builds the arm64
# zips Lambda would run, load-tests the local stack against a bare handler, and writes
# bench/results.md. Takes 15–30 minutes on 2 cores (mostly the release builds); it is never
# part of `make test`, because timings on a shared machine are not pass/fail material.
#
# Knobs: BENCH_COLD (cold starts per function, 10), BENCH_WARM (warm invocations, 500),
# BENCH_DB_RTT_MS (added to every MongoDB round trip of the Lambda measurements, 1.0; 1–2 ms is
# Atlas in ap-south-1 seen from Lambda in the same region), BENCH_HTTP_RTT_MS (added to every
# SES and PhonePe request of the Lambda measurements, 20),
# BENCH_READS / BENCH_WRITES / BENCH_CHECKOUTS (requests per load run), BENCH_CONCURRENCY (16),
# BENCH_SKIP_ARM64=1 (keep whatever zips are in target/lambda), BENCH_IMPORT_RUNS (3).
set -euo pipefail
source "$(dirname "$0")/env.sh"
source "$ROOT/scripts/stack.sh"
cd "$ROOT"

# The function registry is the functions/ directory: one crate, one Lambda, per folder.
mapfile -t FUNCTIONS < <(cd "$ROOT/functions" && ls -1)
DB_RTT_MS="${BENCH_DB_RTT_MS:-1.0}"
HTTP_RTT_MS="${BENCH_HTTP_RTT_MS:-20}"
OUT="$ROOT/bench/results.md"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/pitalya-bench.XXXXXX")"
export BENCH_LOGS="$WORK/logs"
BARE_PID=""
cleanup() {
  [ -n "$BARE_PID" ] && kill "$BARE_PID" 2>/dev/null || true
  stack_down
}
trap cleanup EXIT

scripts/tools.sh

echo "==> release build (x86_64): functions, hello-world, local stack, bench tools"
pkgs=()
for f in "${FUNCTIONS[@]}" dev-server phonepe-sim bench-hello bench-bare bench-harness; do pkgs+=(-p "$f"); done
cargo build --release "${pkgs[@]}"
REL="$CARGO_TARGET_DIR/release"

if [ -z "${BENCH_SKIP_ARM64:-}" ]; then
  # Another arm64 build in the same target dir would only make this one wait on its lock;
  # waiting here instead keeps the log readable and reuses everything it compiled.
  while pgrep -f "cargo-lambda lambda build" >/dev/null; do
    echo "==> waiting for a running cargo lambda build to finish"; sleep 20
  done
  echo "==> release build (arm64 zips, as deployed)"
  PATH="$VENV/bin:$PATH" "$VENV/bin/cargo-lambda" lambda build --release --arm64 --output-format zip \
    -p bench-hello $(printf -- '-p %s ' "${FUNCTIONS[@]}")
fi

echo "==> starting the local stack (release binaries)"
# The jobs loop of the dev server would otherwise compete with the measurements.
STACK_BIN="$REL" JOBS_INTERVAL_SECS=3600 stack_up
bare_port=$(free_port)
PORT="$bare_port" "$REL/bench-bare" >"$WORK/bare.log" 2>&1 &
BARE_PID=$!
wait_port "$bare_port" 30

echo "==> Lambda runtime measurements"
"$REL/pitalya-bench" lambda --bins "$REL" --events "$ROOT/events" --out "$WORK/lambda.md" \
  --routes "$WORK/routes.md" --cold "${BENCH_COLD:-10}" --warm "${BENCH_WARM:-500}" --db-rtt-ms "$DB_RTT_MS" --http-rtt-ms "$HTTP_RTT_MS"

echo "==> load: local stack vs bare handler"
"$REL/pitalya-bench" load --api "$API_URL" --bare "http://127.0.0.1:$bare_port" --out "$WORK/load.md" \
  --reads "${BENCH_READS:-4000}" --writes "${BENCH_WRITES:-2000}" --checkouts "${BENCH_CHECKOUTS:-400}" \
  --concurrency "${BENCH_CONCURRENCY:-16}"

echo "==> Shopify import"
"$REL/pitalya-bench" import --api "$API_URL" --token "$ADMIN_TOKEN" --out "$WORK/import.md" --runs "${BENCH_IMPORT_RUNS:-3}"

echo "==> writing $OUT"
zip_rows() {
  local limit=$((10 * 1024 * 1024))
  for f in bench-hello "${FUNCTIONS[@]}"; do
    local z="$CARGO_TARGET_DIR/lambda/$f/bootstrap.zip"
    if [ -f "$z" ]; then
      local size; size=$(stat -c %s "$z")
      local verdict="PASS"; [ "$size" -lt "$limit" ] || verdict="**FAIL**"
      printf '| %s | %s | %.2f | %s |\n' "$f" "$size" "$(awk -v s="$size" 'BEGIN {printf "%.2f", s / 1048576}')" "$verdict"
    else
      printf '| %s | missing | | **FAIL** |\n' "$f"
    fi
  done
}
commit="$(git rev-parse --short HEAD)"
git diff --quiet HEAD -- common functions dev Cargo.toml Cargo.lock || commit="$commit (with uncommitted changes)"
{
  echo "# Benchmarks"
  echo
  echo "Written by \`make bench\` (scripts/bench.sh). Numbers from one run on the machine below;"
  echo "the database is SecantusDB (\`secantusd-py\`, in memory) on the same machine, so absolute"
  echo "latencies are mostly the database's — the overhead and ratio columns are what the targets judge."
  echo "\`BENCH_DB_RTT_MS\` and \`BENCH_HTTP_RTT_MS\` (below) add a network round trip to every MongoDB"
  echo "command and every SES and PhonePe request of the Lambda runs, as in AWS."
  echo
  echo "## Machine and settings"
  echo
  echo "| | |"
  echo "|---|---|"
  echo "| date | $(date -u '+%Y-%m-%d %H:%M UTC') |"
  echo "| git commit | $commit |"
  echo "| CPU | $(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -1) |"
  echo "| cores | $(nproc) |"
  echo "| memory | $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo) |"
  echo "| kernel | $(uname -sr) |"
  echo "| rustc | $(rustc -V) |"
  echo "| cargo-lambda | $("$VENV/bin/cargo-lambda" lambda --version 2>/dev/null | head -1) |"
  echo "| release profile | lto = fat, codegen-units = 1, panic = abort, strip = symbols, opt-level = 3 |"
  echo "| cold starts / warm invocations per function | ${BENCH_COLD:-10} / ${BENCH_WARM:-500} |"
  echo "| \`BENCH_DB_RTT_MS\` (added to every MongoDB round trip, Lambda runs only) | $DB_RTT_MS ms |"
  echo "| \`BENCH_HTTP_RTT_MS\` (added to every SES and PhonePe request, Lambda runs only) | $HTTP_RTT_MS ms |"
  echo
  echo "## Lambda functions (x86_64 release binaries, local runtime API)"
  echo
  cat "$WORK/lambda.md"
  echo
  echo "## Round trips per route"
  echo
  cat "$WORK/routes.md"
  echo
  echo "## Deployment packages (arm64, \`cargo lambda build --release --arm64 --output-format zip\`)"
  echo
  echo "| function | bootstrap.zip bytes | MB | < 10 MB |"
  echo "|---|---|---|---|"
  zip_rows
  echo
  echo "## Load: local stack vs bare handler"
  echo
  echo "Ours is the release \`pitalya-dev serve\` (every route, our middleware, auth, validation);"
  echo "bare is \`bench/bare\`: axum + the mongodb driver issuing the same commands with none of that."
  echo "Both talk to the same database; the load generator runs on the same 2 cores."
  echo
  cat "$WORK/load.md"
  echo
  echo "## Shopify import (\`POST /admin/imports/shopify-products\`, local stack)"
  echo
  echo "Files from \`dev_server::shopify_sample\` (legacy dialect, new handles each run); one request"
  echo "each, wall time at the client. The import is one transaction per product."
  echo
  cat "$WORK/import.md"
  if [ -f "$ROOT/bench/notes.md" ]; then
    echo
    cat "$ROOT/bench/notes.md"
  fi
} >"$OUT"
echo "==> done: $OUT"
