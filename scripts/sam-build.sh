#!/usr/bin/env bash
# `make sam-build`: what `sam deploy` would upload, built offline. Validates the template with
# `sam validate --lint`, then `sam build` runs the rust-cargolambda build method (cargo lambda +
# zig from .venv) for every function into .aws-sam/build, and lists what it produced.
set -euo pipefail
source "$(dirname "$0")/env.sh"
"$ROOT/scripts/tools.sh"
cd "$ROOT"

SAM_VENV="$ROOT/.venv-sam"
ensure_venv "$SAM_VENV" "$ROOT/requirements-deploy.txt"

export SAM_CLI_TELEMETRY=0 PATH="$VENV/bin:$PATH"
# Credentials are not needed to validate or build; a region is.
export AWS_REGION="${AWS_REGION:-ap-south-1}" AWS_DEFAULT_REGION="${AWS_REGION:-ap-south-1}"

echo "==> sam validate --lint"
"$SAM_VENV/bin/sam" validate --lint --template template.yaml

echo "==> sam build (rust-cargolambda, arm64, release)"
"$SAM_VENV/bin/sam" build --beta-features --template template.yaml

echo "==> built"
for d in .aws-sam/build/*Function; do
  printf '  %-28s %s\n' "$(basename "$d")" "$(du -h "$d/bootstrap" | cut -f1) $(file -b "$d/bootstrap" | cut -d, -f2)"
done
