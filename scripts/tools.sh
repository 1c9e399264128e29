#!/usr/bin/env bash
# Installs what the project needs and is missing: the pinned Python tools into .venv, and
# the Rust components. Safe to run repeatedly; does nothing when everything is in place.
set -euo pipefail
source "$(dirname "$0")/env.sh"

command -v cargo >/dev/null || { echo "cargo is required (https://rustup.rs)" >&2; exit 1; }
command -v python3 >/dev/null || { echo "python3 is required" >&2; exit 1; }
command -v openssl >/dev/null || { echo "openssl is required (apt-get install openssl)" >&2; exit 1; }

if command -v rustup >/dev/null; then
  for c in rustfmt clippy; do
    rustup component list --installed 2>/dev/null | grep -q "^$c" || rustup component add "$c"
  done
fi

ensure_venv "$VENV" "$ROOT/requirements-dev.txt"

# pdftotext (Debian's poppler-utils): the invoice tests read the text back out of the PDFs
# they generate, as an accountant's tools would.
if ! command -v pdftotext >/dev/null; then
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq poppler-utils
  else
    echo "pdftotext is required for the invoice tests (apt-get install poppler-utils)" >&2
    exit 1
  fi
fi
