#!/usr/bin/env bash
# Creates .venv and installs contactcenter with its development tools. Safe to re-run.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[dev]'
# The browser tests drive Debian's Chromium (not a Playwright download); installing it
# needs root, so here it is only checked. .ci/run installs it.
if [ ! -x "${CC_CHROMIUM:-/usr/bin/chromium}" ]; then
  echo "note: Chromium is missing; tests/agent_ui will fail until it is installed:" \
    "sudo apt-get install chromium" >&2
fi
