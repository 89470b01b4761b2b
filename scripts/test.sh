#!/usr/bin/env bash
# Runs the test suite (npm test, after setup and build). Every test file opens its own Dawn
# device, and Dawn prints its start-up notices from native code to stderr; they pass through
# the same filter as the bionas command's (BIONAS_VERBOSE=1 shows them). The exit status is
# vitest's.
set -uo pipefail
cd "$(dirname "$0")/.."
npx vitest run "$@" 2> >(node dist/filter-dawn.mjs >&2)
status=$?
# Let the filter print what it still holds before the shell returns.
wait
exit $status
