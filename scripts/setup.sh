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
# The browser tests drive Debian's Chromium (not a Playwright download). As root on a
# Debian machine it is installed here, so the test command works on a fresh machine;
# otherwise only a note is printed (and tests/agent_ui fail, saying how to install it).
if [ ! -x "${CC_CHROMIUM:-/usr/bin/chromium}" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get -o DPkg::Lock::Timeout=600 install -y -q chromium >/dev/null \
      || { apt-get -o DPkg::Lock::Timeout=600 update -q >/dev/null && apt-get -o DPkg::Lock::Timeout=600 install -y -q chromium >/dev/null; } \
      || echo "note: could not install chromium; tests/agent_ui will fail" >&2
  else
    echo "note: Chromium is missing; tests/agent_ui will fail until it is installed:" \
      "sudo apt-get install chromium" >&2
  fi
fi
