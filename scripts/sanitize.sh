#!/usr/bin/env bash
# ASan + UBSan build of the CPU tests without LibTorch (core, io, simulator and the zo2 command) in build-asan/ (or
# $ZO2_ASAN_BUILD_DIR), then ctest on it. Extra arguments go to ctest (e.g. -R io/).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${ZO2_ASAN_BUILD_DIR:-build-asan}
generator=(); command -v ninja >/dev/null && generator=(-G Ninja)
launcher=(); if command -v ccache >/dev/null; then
  export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$PWD} CCACHE_NOHASHDIR=${CCACHE_NOHASHDIR:-true}
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
# RelWithDebInfo: optimized enough to run the tests in CI time, with line numbers in the reports.
cmake -S . -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo "${launcher[@]}" -DZO2_SANITIZE=ON \
  -DZO2_WITH_TORCH=OFF -DZO2_WITH_CUDA=OFF -DZO2_BUILD_BENCHMARKS=OFF
cmake --build "$build" -j "${ZO2_JOBS:-$(nproc)}"
# Any report fails its test: UBSan halts (the build has -fno-sanitize-recover), ASan always does.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
ctest --test-dir "$build" --output-on-failure -j "${ZO2_TEST_JOBS:-2}" "$@"
