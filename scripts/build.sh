#!/usr/bin/env bash
# Configures and builds everything into build/ (or $ZO2_BUILD_DIR) against PyPI's torch; extra CMake prefixes (the
# GPU machine's unpacked Debian packages) come from $ZO2_PREFIX. Extra arguments go to cmake.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${ZO2_BUILD_DIR:-build}
torch_prefix=$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)')
prefix="$torch_prefix${ZO2_PREFIX:+;$ZO2_PREFIX}"
generator=(); command -v ninja >/dev/null && generator=(-G Ninja)
cmake -S . -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix" "$@"
cmake --build "$build" -j "${ZO2_JOBS:-$(nproc)}"
