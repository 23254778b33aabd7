#!/usr/bin/env bash
# Install what the portal's browser tests (tests/web, marker `browser`) need, only what is missing:
# Debian's chromium, and the Python driver (playwright, pinned in pyproject's dev extra) in the venv.
# Playwright drives /usr/bin/chromium via executable_path: `playwright install` is never run.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PY:-.venv/bin/python}"

if ! command -v chromium >/dev/null 2>&1; then
  echo "installing Debian chromium"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium
fi

if [ -x "$PY" ] && ! "$PY" -c "import playwright.sync_api" >/dev/null 2>&1; then
  pin="$(grep -o '"playwright==[^"]*"' pyproject.toml | tr -d '"')"
  echo "installing ${pin:-playwright} into $PY"
  "$PY" -m pip install --quiet "${pin:-playwright}"
fi
