#!/usr/bin/env bash
# Installs Debian's chromium (and a font set) for the dashboard's browser test, which
# drives it with Playwright through `executable_path` (Playwright's own browser
# download is never used). Idempotent; prints the browser's path.
set -euo pipefail
if ! command -v chromium >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends chromium fonts-liberation >&2
fi
command -v chromium
