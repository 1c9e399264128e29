#!/usr/bin/env bash
# `make fuzz`: Schemathesis against openapi.yaml on a throw-away local stack, authenticated.
# Every operation, schema-valid and schema-violating inputs; fails on any 5xx and on any
# response the spec does not describe (status code, content type, headers, body schema), on
# routes that ignore their credentials and on methods a route should refuse. Writes
# bench/fuzz.md; the raw reports (JSON, JUnit, the console log, the API log) go to target/fuzz/.
#   FUZZ_EXAMPLES  test cases per operation in the fuzzing phase (default 100; CI runs 10)
#   FUZZ_SEED      replay a run (every run's seed is printed and recorded in bench/fuzz.md)
#   FUZZ_SPEC      the spec to hold the API to (default openapi.yaml)
#   FUZZ_REPORT    where the summary goes (default bench/fuzz.md; CI's short run writes
#                  under target/ so the committed full run is not replaced)
#   FUZZ_WORKERS   concurrent workers (default 1: Python 3.11's ast.parse, which Hypothesis
#                  calls while describing strategies, is not thread-safe)
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
export STACK_LOGS="${STACK_LOGS:-${TMPDIR:-/tmp}/pitalya-fuzz}"
source "$ROOT/scripts/stack.sh"
trap stack_down EXIT

examples="${FUZZ_EXAMPLES:-100}"
workers="${FUZZ_WORKERS:-1}"
checks=not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance,ignored_auth,unsupported_method,missing_required_header
out="$CARGO_TARGET_DIR/fuzz"
rm -rf "$out"
mkdir -p "$out"

"$ROOT/scripts/tools.sh"
cargo build --quiet -p dev-server -p phonepe-sim
stack_up

# Credentials, and real ids for the hooks to mix in (see scripts/fuzz_hooks.py).
export FUZZ_PRIVATE_KEY="$DEV_KEY_DIR/private.pem" SCHEMATHESIS_HOOKS="$ROOT/scripts/fuzz_hooks.py"
FUZZ_FIXTURE=$("$VENV/bin/python" "$ROOT/scripts/fuzz_hooks.py" prepare)
export FUZZ_FIXTURE

spec="$(realpath "${FUZZ_SPEC:-$ROOT/openapi.yaml}")"
args=(run "$spec" --url "$API_URL" --checks "$checks" --phases examples,coverage,fuzzing
  --max-examples "$examples" --workers "$workers" --request-timeout 10 --generation-database none
  --no-color --output-truncate false --report json,junit --report-dir "$out"
  --report-json-path "$out/report.json" --report-junit-path "$out/junit.xml")
[ -n "${FUZZ_SEED:-}" ] && args+=(--seed "$FUZZ_SEED")

echo "==> schemathesis: $examples examples per operation against $API_URL"
started=$(date +%s)
status=0
# Run from target/fuzz: Schemathesis keeps its cache (.schemathesis/) in the working directory.
(cd "$out" && "$VENV/bin/schemathesis" "${args[@]}") >"$out/schemathesis.log" 2>&1 || status=$?
elapsed=$(($(date +%s) - started))
cp "$STACK_LOGS/api.log" "$out/api.log" 2>/dev/null || true
# The whole report when something failed; the summary otherwise.
if [ "$status" -ne 0 ]; then cat "$out/schemathesis.log"; else sed -n '/= SUMMARY =/,$p' "$out/schemathesis.log"; fi

# bench/fuzz.md: this run's numbers, then the hand-kept sections of the previous file.
"$VENV/bin/python" - "$out" "$examples" "$elapsed" "$status" "$checks" "${FUZZ_REPORT:-$ROOT/bench/fuzz.md}" <<'PY'
import collections, datetime, json, os, re, sys

out, examples, elapsed, status, checks, target = sys.argv[1:7]
checks = checks.split(",")
report = json.load(open(os.path.join(out, "report.json")))
# Which check raises each kind of failure.
check_of = {
    "ServerError": "not_a_server_error", "ContentTypeServerError": "not_a_server_error",
    "UndefinedStatusCode": "status_code_conformance",
    "MissingContentType": "content_type_conformance", "UndefinedContentType": "content_type_conformance",
    "MalformedMediaType": "content_type_conformance",
    "MissingHeaders": "response_headers_conformance",
    "JsonSchemaError": "response_schema_conformance", "MalformedJson": "response_schema_conformance",
    "ContentDeserializationError": "response_schema_conformance",
    "DiscriminatorMismatch": "response_schema_conformance",
    "IgnoredAuth": "ignored_auth",
    "UnsupportedMethodResponse": "unsupported_method", "AllowHeaderMismatch": "unsupported_method",
    "MissingHeaderNotRejected": "missing_required_header",
}
what = {
    "not_a_server_error": "no 5xx, whatever the input",
    "status_code_conformance": "every status code is documented for its operation",
    "content_type_conformance": "every Content-Type is documented for its status",
    "response_headers_conformance": "documented required headers are sent and valid (Retry-After on 429)",
    "response_schema_conformance": "every body matches its documented schema (Problem documents included)",
    "ignored_auth": "a route that requires credentials refuses requests without valid ones",
    "unsupported_method": "methods a path does not document are refused with 405",
    "missing_required_header": "requests missing a required header are refused",
}
per_check = collections.Counter()
failed_ops = collections.defaultdict(set)
for f in report["failures"]:
    check = check_of.get(f["type"], f["type"])
    per_check[check] += f["count"]
    failed_ops[check].update(f.get("operations", []))

statuses = collections.Counter()
try:
    for line in open(os.path.join(out, "api.log")):
        m = re.search(r"request finished status=(\d+)", line)
        if m:
            statuses[m.group(1)] += 1
except FileNotFoundError:
    pass

ops = report["operations"]
cases = report["test_cases"]
phases = report["phases"]
date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
passed = int(status) == 0
lines = [
    "# Fuzzing: Schemathesis against openapi.yaml",
    "",
    "Written by `make fuzz` (`scripts/fuzz.sh`); everything above *Notes* is this run's, the",
    "sections from *Notes* on are kept by hand and carried over from run to run.",
    "",
    "| | |",
    "|---|---|",
    f"| date | {date} |",
    f"| schemathesis | {report['schemathesis_version']} |",
    f"| result | {'**passed**' if passed else f'**FAILED** (exit code {status})'} |",
    f"| operations tested | {ops['tested']} of {ops['total']} in openapi.yaml (errored {ops['errored']}, skipped {ops['skipped']}) |",
    "| phases | " + ", ".join(f"{k} ({v['status']}{': ' + v['skip_reason'] if v.get('skip_reason') else ''})" for k, v in phases.items()) + " |",
    f"| examples | up to {examples} per operation in the fuzzing phase (`FUZZ_EXAMPLES`), plus the coverage phase's boundary and negative cases |",
    f"| test cases | {cases['generated']} generated, {cases['with_failures']} with failures, {cases['errored']} errored |",
    f"| requests the API served | {sum(statuses.values())}: " + ", ".join(f"{k} × {v}" for k, v in sorted(statuses.items())) + " |",
    f"| seed | `{report['seed']}` (replay with `FUZZ_SEED={report['seed']} FUZZ_EXAMPLES={examples} make fuzz`) |",
    f"| running time | {elapsed} s (schemathesis {report['running_time']:.0f} s) |",
    "",
    "## Checks",
    "",
    "| check | what it asserts | result |",
    "|---|---|---|",
]
for c in checks:
    n = per_check.pop(c, 0)
    result = "passed" if n == 0 else f"**{n} failure(s)**: " + ", ".join(sorted(failed_ops[c]))
    lines.append(f"| `{c}` | {what.get(c, '')} | {result} |")
for c, n in per_check.items():
    lines.append(f"| `{c}` | | **{n} failure(s)**: " + ", ".join(sorted(failed_ops[c])) + " |")
if report["errors"]:
    lines += ["", "Errors (the fuzzer itself): " + ", ".join(f"{e['title']} × {e['count']}" for e in report["errors"])]

lines += ["", "## How deep the inputs got", "",
          "Per operation, the responses Schemathesis classed as accepted (2xx), rejected (400/422 validation),",
          "conflicts (409/429) and unreachable (404), over the coverage and fuzzing phases:", "",
          "| operation | accepted | rejected | conflicts | unreachable |", "|---|---|---|---|---|"]
for op, by_phase in sorted(report.get("valid_rates", {}).items(), key=lambda kv: kv[0].split(" ", 1)[::-1]):
    tot = collections.Counter()
    for r in by_phase.values():
        tot.update(r)
    lines.append(f"| `{op}` | {tot['accepted']} | {tot['rejected']} | {tot['conflicts']} | {tot['unreachable']} |")
warnings = {k: v for k, v in report.get("warnings", {}).items() if v}
if warnings:
    lines += ["", "Schemathesis warnings: " + "; ".join(f"{k}: {', '.join(map(str, v))}" for k, v in warnings.items())]

kept = ""
if os.path.exists(target):
    text = open(target).read()
    i = text.find("\n## Notes")
    if i >= 0:
        kept = text[i:]
os.makedirs(os.path.dirname(target), exist_ok=True)
with open(target, "w") as f:
    f.write("\n".join(lines) + "\n" + kept)
print(f"==> wrote {os.path.relpath(target)}")
PY
exit "$status"
