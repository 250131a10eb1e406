#!/usr/bin/env bash
# One call on the GPU machine: unpack the carried Debian packages, build, run the GPU tests, the kernel benchmarks and
# the speed runs, write logs and results rows under $OUT, and print a short table last.
# Usage (from the repo root, with .deps carried): scripts/gpu_session.sh [build] [test] [bench] [speed] [nsys]
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/zo2-out}
mkdir -p "$OUT"
stages=${*:-build test bench speed}
summary="$OUT/summary.txt"
: > "$summary"
note() { echo "$*" | tee -a "$summary"; }

deps=/tmp/zo2deps
if [ ! -d "$deps/usr" ]; then
  for f in .deps/debs/*.deb; do dpkg -x "$f" "$deps"; done
fi
export ZO2_PREFIX="$deps/usr" ZO2_BUILD_DIR=build-gpu ZO2_JOBS=16
export LD_LIBRARY_PATH="$deps/usr/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}"
export ZO2_COMMIT=${ZO2_COMMIT:-$(git rev-parse --short HEAD 2>/dev/null || echo unknown)}
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee -a "$summary"

for stage in $stages; do
  start=$(date +%s)
  case $stage in
    build)
      scripts/build.sh -DCMAKE_CUDA_ARCHITECTURES=90 > "$OUT/build.log" 2>&1
      rc=$?; tail -3 "$OUT/build.log";;
    test)
      ./build-gpu/tests/test_engine > "$OUT/test_engine.log" 2>&1; rc=$?
      grep -E "FAILED|SKIPPED|passed|failed" "$OUT/test_engine.log" | tail -8
      PYTHONUNBUFFERED=1 ZO2_BIN=$PWD/build-gpu/zo2 python3 -m pytest -q -rs tests/python > "$OUT/pytest.log" 2>&1
      rc=$((rc + $?)); tail -6 "$OUT/pytest.log";;
    bench)
      ./build-gpu/benchmarks/bench_engine_zo_pass --benchmark_filter=Cuda --benchmark_out="$OUT/bench_zo_pass.json" \
        --benchmark_out_format=json > "$OUT/bench_zo_pass.log" 2>&1; rc=$?
      grep -E "BM_|copy_fraction" "$OUT/bench_zo_pass.log" | tee -a "$summary";;
    speed)
      rc=0
      for model in opt-1.3b opt-6.7b opt-13b; do
        ./build-gpu/zo2 train --model "$model" --steps 10 --batch 1 --seq 2048 --device cuda --dtype fp16 \
          --lr 1e-7 --eps 1e-3 --seed 1 --results "$OUT/results_resident.csv" > "$OUT/speed_$model.log" 2>&1
        rc=$((rc + $?)); note "$model: $(tail -1 "$OUT/speed_$model.log")"
      done;;
    offload)
      rc=0
      for model in opt-1.3b opt-6.7b opt-13b opt-30b; do
        for policy in "--prefetch 1 --writeback 1" "--prefetch 2 --writeback 4"; do
          tag="$model $(echo $policy | tr -d '-' | tr ' ' '_')"
          ./build-gpu/zo2 train --model "$model" --steps 8 --batch 1 --seq 2048 --device cuda --dtype fp16 \
            --offload all $policy --lr 1e-7 --eps 1e-3 --seed 1 --results "$OUT/results_offload.csv" \
            > "$OUT/offload.log" 2>&1
          rc=$((rc + $?)); note "$tag: $(tail -1 "$OUT/offload.log")"
        done
      done;;
    *) echo "unknown stage $stage"; rc=1;;
  esac
  note "stage $stage: rc=$rc, $(( $(date +%s) - start )) s"
done
echo "==== summary"; cat "$summary"
