#!/usr/bin/env bash
# The demo: installs and builds what is missing, then runs the demo in network namespaces of
# its own (the root namespace is never changed).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec node dist/lab/demo.js "$@"
