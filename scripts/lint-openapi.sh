#!/usr/bin/env bash
# Lints openapi.yaml with Redocly CLI, pinned to one exact version (the rules are in
# redocly.yaml: recommended-strict, so any warning fails). npx fetches that version into the
# npm cache on first use and reuses it after; only node and npx need to be installed.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"

REDOCLY_CLI_VERSION=2.77.0

command -v npx >/dev/null || { echo "node and npx are required to lint openapi.yaml (https://nodejs.org)" >&2; exit 1; }

echo "==> redocly lint openapi.yaml (@redocly/cli@$REDOCLY_CLI_VERSION)"
# No usage telemetry and no update notice from a lint run.
REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true \
  npx --yes "@redocly/cli@$REDOCLY_CLI_VERSION" lint --config "$ROOT/redocly.yaml" "$ROOT/openapi.yaml"
