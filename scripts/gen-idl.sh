#!/usr/bin/env bash
# Regenerate idl/outcome_market.json from the program's code (`--check`: fail if stale).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tandem/target}"
exec python3 scripts/gen_idl.py "${@:---write}"
