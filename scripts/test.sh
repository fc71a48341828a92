#!/usr/bin/env bash
# Sets up a fresh machine (see scripts/setup.sh) and runs the whole test suite.
# Extra arguments go to pytest, e.g. scripts/test.sh -m "not slow" tests/routing
# The suite runs on every core (pytest-xdist; each worker has its own database, server
# ports and browser); pass -n 0 to run in one process.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/python -m pytest -n "${CC_TEST_WORKERS:-auto}" --dist worksteal "$@"
