#!/usr/bin/env bash
# The README's "A screenful of curl" and every bash block of docs/walkthrough.md, run as a
# newcomer pastes them, twice in a row, against a throw-away stack on free ports (make test).
# Only the base URLs of make dev's default ports are swapped for the stack's; everything else
# runs exactly as written, each document in a fresh bash from a scratch directory (`make`
# still means this repository's Makefile). A run fails on any answer outside 2xx other than the
# refusals the pages show on purpose, on any Python traceback (a `json '["id"]'` of an error),
# and when the order it pays is not reported paid. What each paste printed is kept in
# target/walkthrough/. Expects the debug binaries (make test builds
# them) or STACK_BIN.
set -euo pipefail
source "$(dirname "$0")/env.sh"
source "$ROOT/scripts/stack.sh"
STACK_LOGS="${TMPDIR:-/tmp}/pitalya-walkthrough"
# What each paste printed stays in target/walkthrough/ to read (orders.csv too).
work="$CARGO_TARGET_DIR/walkthrough"
rm -rf "$work" && mkdir -p "$work"
trap stack_down EXIT
stack_up

# The sh blocks of $1 (only those under the heading $2 when given), with the default ports'
# URLs replaced by this stack's.
blocks() {
  python3 - "$1" "${2:-}" <<'PY'
import os, re, sys
path, heading = sys.argv[1], sys.argv[2]
text = open(path, encoding="utf-8").read()
if heading:
    text = text.split("\n## " + heading + "\n", 1)[1].split("\n## ", 1)[0]
code = "\n".join(re.findall(r"^```sh\n(.*?)^```$", text, flags=re.S | re.M))
urls = {"http://127.0.0.1:3000": os.environ["API_URL"], "http://127.0.0.1:4010": os.environ["SIM_URL"],
        "http://127.0.0.1:4566": os.environ["AWS_ENDPOINT_URL_SES"]}
for default, here in urls.items():
    code = code.replace(default, here)
left = sorted(set(re.findall(r"127\.0\.0\.1:\d+", code)) - {u.split("//")[1] for u in urls.values()})
if left:
    sys.exit(f"{path}: a port other than make dev's defaults is written in: {left}")
# `make mail-preview` compiles an example of its own; make test checks the templates elsewhere.
print("\n".join(l for l in code.splitlines() if not l.startswith("make mail-preview")))
PY
}

# What the pages show on purpose: the cart's limit, an unknown product, a tampered token.
expected_refusal() {
  case "$1" in
    "422 POST $API_URL/cart/add" | "404 GET $API_URL/products/no-such-thing" | "401 GET $API_URL/cart") return 0 ;;
    *) return 1 ;;
  esac
}

# Runs the script $2 in a fresh bash as run $1; every curl notes its status on stderr.
run() {
  local started=$SECONDS name=$1 script=$2 out="$work/${1//[^A-Za-z0-9]/_}.out" err="$work/${1//[^A-Za-z0-9]/_}.err" bad=0
  (cd "$work" && bash --noprofile --norc -s >"$out" 2>"$err") <<SH
make() { command make --no-print-directory -C "$ROOT" "\$@"; }
curl() { command curl -w '%{stderr}HTTP %{http_code} %{method} %{url_effective}\n' "\$@"; }
$script
SH
  while read -r _ status method url; do
    [[ $status == 2* ]] || expected_refusal "$status $method $url" || {
      echo "  $name: $method $url answered $status" >&2; bad=1; }
  done < <(grep '^HTTP ' "$err")
  if grep -v '^HTTP ' "$err" | grep -q .; then
    echo "  $name wrote to stderr:" >&2; grep -v '^HTTP ' "$err" | head -20 >&2; bad=1
  fi
  # (after curl's output, which ends without a newline)
  grep -q 'paid$' "$out" || { echo "  $name: the order was never reported paid" >&2; bad=1; }
  if (( bad )); then
    echo "--- $name stdout (last 40 lines)" >&2; tail -n 40 "$out" >&2
    return 1
  fi
  echo "  ok: $name ($(grep -c '^HTTP ' "$err") calls, $((SECONDS - started)) s)"
}

readme=$(blocks "$ROOT/README.md" "A screenful of curl")
walkthrough=$(blocks "$ROOT/docs/walkthrough.md")
# The walkthrough lists mails with attachments too: the invoice went out when the order shipped.
for round in 1 2; do
  run "README, paste $round" "$readme"
  run "docs/walkthrough.md, paste $round" "$walkthrough"
  grep -q "\.pdf'\]" "$work/docs_walkthrough_md__paste_$round.out" \
    || { echo "  the walkthrough's mail listing shows no mail with an attachment" >&2; exit 1; }
done
echo "README and docs/walkthrough.md: as written, twice"
