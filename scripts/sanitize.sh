#!/usr/bin/env bash
# ASan + UBSan build of the CPU tests in build-asan/ (or $ZO2_ASAN_BUILD_DIR), then ctest on it. By default without
# LibTorch (core, io, simulator tests); ZO2_SANITIZE_TORCH=1 adds the engine and its CPU tests (LibTorch itself is not
# instrumented). Extra arguments go to ctest (e.g. -R io/).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/python-env.sh
build=${ZO2_ASAN_BUILD_DIR:-build-asan}
torch=${ZO2_SANITIZE_TORCH:-0}
cmake_args=(-DZO2_SANITIZE=ON -DZO2_WITH_CUDA=OFF -DZO2_BUILD_BENCHMARKS=OFF)
if [ "$torch" = 1 ]; then
  torch_prefix=$("$ZO2_PYTHON" -c 'import torch;print(torch.utils.cmake_prefix_path)') || {
    echo "sanitize: $ZO2_PYTHON has no torch: run scripts/setup-debian.sh first" >&2; exit 1; }
  cmake_args+=(-DZO2_WITH_TORCH=ON -DCMAKE_PREFIX_PATH="$torch_prefix" -DPython3_EXECUTABLE="$(command -v "$ZO2_PYTHON")")
else
  cmake_args+=(-DZO2_WITH_TORCH=OFF)
fi
generator=(); command -v ninja >/dev/null && generator=(-G Ninja)
launcher=(); if command -v ccache >/dev/null; then
  export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$PWD} CCACHE_NOHASHDIR=${CCACHE_NOHASHDIR:-true}
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
# RelWithDebInfo: optimized enough to run the tests in CI time, with line numbers in the reports.
cmake -S . -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo "${launcher[@]}" "${cmake_args[@]}"
cmake --build "$build" -j "${ZO2_JOBS:-$(nproc)}"
# Any report fails the test: UBSan halts (the build has -fno-sanitize-recover), ASan always does.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
if [ "$torch" = 1 ]; then
  # LibTorch is not built with ASan: its one-time allocations at start-up (thread pools, operator registry) are
  # never freed and LeakSanitizer reports them as leaks of an uninstrumented library; leak checks stay on without it.
  ASAN_OPTIONS=${ASAN_OPTIONS/detect_leaks=1/detect_leaks=0}
fi
ctest --test-dir "$build" --output-on-failure -j "${ZO2_TEST_JOBS:-2}" "$@"
