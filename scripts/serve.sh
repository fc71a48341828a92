#!/usr/bin/env bash
# Sets up a fresh machine (see scripts/setup.sh), seeds the demo data and runs the server
# on its embedded defaults: an embedded PostgreSQL under ./var unless DATABASE_URL is set.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
.venv/bin/contactcenter migrate
.venv/bin/contactcenter seed-demo
exec .venv/bin/contactcenter serve "$@"
