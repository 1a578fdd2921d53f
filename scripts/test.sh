#!/usr/bin/env bash
# The test suite: installs and builds what is missing, runs every test (ava), removes any
# namespace a crashed test left behind, and ends with one line "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || { echo "0 passed, 1 failed"; exit 1; }
log=$(mktemp)
# Names this run's test namespaces, so the clean-up below touches no other run's.
export WEFT_TEST_RUN="r$$"
trap 'node dist/test/helpers/cleanup.js; rm -f "$log"' EXIT
node_modules/.bin/ava --tap "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
node dist/test/helpers/summary.js "$log" "$status"
exit $?
