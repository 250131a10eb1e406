#!/usr/bin/env bash
# Configures and builds everything into build/ (or $ZO2_BUILD_DIR) against PyPI's torch; extra CMake prefixes (the
# GPU machine's unpacked Debian packages) come from $ZO2_PREFIX. Extra arguments go to cmake.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/python-env.sh
build=${ZO2_BUILD_DIR:-build}
torch_prefix=$("$ZO2_PYTHON" -c 'import torch;print(torch.utils.cmake_prefix_path)') || {
  echo "build: $ZO2_PYTHON has no torch: run scripts/setup-debian.sh first" >&2; exit 1; }
prefix="$torch_prefix${ZO2_PREFIX:+;$ZO2_PREFIX}"
generator=(); command -v ninja >/dev/null && generator=(-G Ninja)
# ccache, where installed, lets several build folders (sanitizers, fuzzing, a second checkout) share object files.
launcher=(); if command -v ccache >/dev/null; then
  export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$PWD} CCACHE_NOHASHDIR=${CCACHE_NOHASHDIR:-true}
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_CUDA_COMPILER_LAUNCHER=ccache)
fi
cmake -S . -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release "${launcher[@]}" -DCMAKE_PREFIX_PATH="$prefix" \
  -DPython3_EXECUTABLE="$(command -v "$ZO2_PYTHON")" "$@"
# $ZO2_BUILD_TARGETS (space-separated) builds only those targets.
cmake --build "$build" -j "${ZO2_JOBS:-$(nproc)}" ${ZO2_BUILD_TARGETS:+--target $ZO2_BUILD_TARGETS}
# `import zo2` for the python that built it: a .pth file in its site-packages naming the package sources (python/)
# and the extension this build made (<build>/python). ZO2_PTH=0 skips it (several checkouts sharing one environment).
if [ "${ZO2_PTH:-1}" != 0 ] && ls "$build"/python/_zo2*.so >/dev/null 2>&1; then
  "$ZO2_PYTHON" - "$PWD/python" "$(cd "$build" && pwd)/python" <<'PY'
import os, site, sys, sysconfig
lines = "\n".join(sys.argv[1:]) + "\n"
for d in [sysconfig.get_paths()["purelib"], site.getusersitepackages()]:
    try:
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "zo2.pth"), "w") as f:
            f.write(lines)
        print(f"build: import zo2 for {sys.executable} via {os.path.join(d, 'zo2.pth')}")
        break
    except OSError:
        continue
else:
    print("build: could not write zo2.pth; set PYTHONPATH=" + os.pathsep.join(sys.argv[1:]), file=sys.stderr)
PY
fi
