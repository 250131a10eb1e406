#!/usr/bin/env bash
# Runs every test: the Catch2 programs and the Python checks against transformers (through ctest).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${ZO2_BUILD_DIR:-build}
ctest --test-dir "$build" --output-on-failure -j "${ZO2_TEST_JOBS:-2}" "$@"
