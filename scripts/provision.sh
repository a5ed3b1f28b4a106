#!/usr/bin/env bash
# Builds (once per machine) and caches the real Temporal servers: see scripts/toolchain.ts.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f dist/scripts/provision.js ] || npx tsc -p tsconfig.build.json
exec node dist/scripts/provision.js
