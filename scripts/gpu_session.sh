#!/usr/bin/env bash
# One call on the GPU machine: unpack the carried Debian packages, build, run the GPU tests, the kernel benchmarks and
# the speed runs, write logs and results rows under $OUT, and print a short table last.
# Usage (from the repo root, with .deps carried):
#   scripts/gpu_session.sh [build] [test] [bench] [calibrate] [speed] [offload] [small] [ablation] [wire] [wirehost]
#                          [hostcpu] [budget] [big] [ncu] [nsys] [overlap] [llama] [families] [sanitize] [codec]
#                          [unchanged] [pyloop]
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

# One engine spec (experiments/specs/engine/NAME.json) through zo2 train: results rows to $OUT/results.csv, every
# run's output to train_all.log, one line per run in the summary.
spec() {
  python3 analysis/run_specs.py "$1" --measure --zo2 ./build-gpu/zo2 --results "$OUT/results.csv" \
    --log "$OUT/train_all.log" | tee -a "$summary"
  return "${PIPESTATUS[0]}"
}

for stage in $stages; do
  start=$(date +%s)
  case $stage in
    build)
      scripts/build.sh -DCMAKE_CUDA_ARCHITECTURES=90 > "$OUT/build.log" 2>&1
      rc=$?; tail -3 "$OUT/build.log";;
    test)
      ./build-gpu/tests/test_engine > "$OUT/test_engine.log" 2>&1; rc=$?
      grep -E "FAILED|SKIPPED|passed|failed" "$OUT/test_engine.log" | tail -8
      PYTHONUNBUFFERED=1 ZO2_BIN=$PWD/build-gpu/zo2 PYTHONPATH=$PWD/python:$PWD/build-gpu/python python3 -m pytest -q -rs tests/python > "$OUT/pytest.log" 2>&1
      rc=$((rc + $?)); tail -6 "$OUT/pytest.log";;
    bench)
      ./build-gpu/benchmarks/bench_engine_zo_pass --benchmark_filter=Cuda --benchmark_out="$OUT/bench_zo_pass.json" \
        --benchmark_out_format=json > "$OUT/bench_zo_pass.log" 2>&1; rc=$?
      grep -E "BM_|copy_fraction" "$OUT/bench_zo_pass.log" | tee -a "$summary";;
    llama)  # LLaMA shapes: experiments/specs/engine/llama.json
      spec llama; rc=$?;;
    pyloop)  # import zo2's loop against zo2 train: OPT-1.3B offloaded, OPT-6.7B resident (benchmarks/python_loop_tps.py)
      PYTHONPATH=$PWD/python:$PWD/build-gpu/python python3 benchmarks/python_loop_tps.py --zo2 build-gpu/zo2 \
        --out "$OUT/python_loop.csv" 2>&1 | tee -a "$summary"; rc=${PIPESTATUS[0]};;
    overlap)  # a block's forward beside another block's ZO pass on a second stream: how much ZO time could hide
      ./build-gpu/benchmarks/bench_engine_overlap --benchmark_out="$OUT/bench_overlap.json" --benchmark_out_format=json \
        > "$OUT/bench_overlap.log" 2>&1; rc=$?
      grep -E "BM_" "$OUT/bench_overlap.log" | tee -a "$summary";;
    speed)  # the whole model resident (experiments/specs/engine/speed.json); SM clock, power and throttle reasons
      # logged beside it (resident steps run slower than their isolated op timings: clocks under sustained load are
      # one suspect)
      nvidia-smi --query-gpu=timestamp,clocks.sm,clocks.mem,power.draw,temperature.gpu,clocks_throttle_reasons.active \
        --format=csv -lms 200 > "$OUT/clocks.log" 2>&1 &
      smi=$!
      spec speed; rc=$?
      kill $smi 2>/dev/null
      note "SM clock MHz during speed: $(awk -F', ' 'NR>1 {print $2}' "$OUT/clocks.log" | sort -n | uniq -c | sort -rn | head -3 | tr '\n' ' ')";;
    offload|small|wire|wirehost|ablation|budget|big|families)  # experiments/specs/engine/$stage.json: what each runs, and why
      spec "$stage"; rc=$?;;
    hostcpu)  # the host's fused-ZO-pass rate on 1 thread and on all: does at::parallel_for scale here?
      lscpu | grep -E "Model name|^CPU\(s\)|Thread|MHz" | tee -a "$summary"
      rc=0
      for threads in 1 4 16; do
        OMP_NUM_THREADS=$threads ./build-gpu/benchmarks/bench_engine_zo_pass --benchmark_filter='BM_ZoPassCpu/0/1' \
          2>&1 | grep BM_ | sed "s/^/threads $threads: /" | tee -a "$summary"
      done;;
    calibrate)  # the hardware profile the simulator reads, measured here
      card=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1 | grep -oE 'H100|H200' | tr 'A-Z' 'a-z')
      ./build-gpu/tests/test_engine "[calibrate]" > "$OUT/calibrate_test.log" 2>&1; rc=$?
      tail -2 "$OUT/calibrate_test.log"
      ./build-gpu/zo2 calibrate --out "$OUT/${card:-gpu}-measured.json" \
        --models opt-1.3b,opt-6.7b,opt-13b,opt-30b,llama-2-7b,llama-3-8b,llama-2-13b > "$OUT/calibrate.log" 2>&1
      rc=$((rc + $?)); tail -3 "$OUT/calibrate.log";;
    ncu)  # Nsight Compute on the fused ZO kernels (one launch each): what bounds them (issue, pipes, memory, stalls)
      ncu=$(ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
      rc=0
      # dtype/pass/groups/min blocks: fp16 perturb, fp16 update+perturb (default and 32 registers), fp32
      # update+perturb, fp16 folded restore
      for bm in 1/0/0/-1 1/1/0/-1 1/1/0/8 0/1/0/-1 1/2/0/-1; do
        $ncu --kernel-name regex:zo_pass_kernel --launch-skip 5 --launch-count 1 --print-details all \
          --section SpeedOfLight --section ComputeWorkloadAnalysis --section MemoryWorkloadAnalysis \
          --section WarpStateStats --section Occupancy --section SchedulerStats --section LaunchStats \
          ./build-gpu/benchmarks/bench_engine_zo_pass --benchmark_filter="BM_ZoPassCuda/$bm/" \
          > "$OUT/ncu_${bm//\//_}.log" 2>&1; rc=$((rc + $?))
        grep -E "Memory Throughput|DRAM Throughput|Compute \(SM\) Throughput|Issue Slots Busy|Achieved Occupancy|Registers Per|No Eligible|Warp Cycles Per Issued" \
          "$OUT/ncu_${bm//\//_}.log" | sed "s|^|$bm |" | tee -a "$summary"
      done;;
    nsys)  # three 6.7B steps under Nsight Systems, NVTX ranges named as the plan's ops
      nsys=/opt/nvidia/nsight-compute/2025.3.1/host/target-linux-x64/nsys
      $nsys profile -t cuda,nvtx -o "$OUT/zo2_opt-6.7b" --force-overwrite true \
        ./build-gpu/zo2 train --model opt-6.7b --steps 3 --batch 1 --seq 2048 --device cuda --dtype fp16 \
        --offload all --prefetch 1 --writeback 1 > "$OUT/nsys_run.log" 2>&1; rc=$?
      $nsys stats --report nvtx_sum,cuda_gpu_kern_sum,cuda_gpu_mem_time_sum --format csv \
        --output "$OUT/nsys" "$OUT/zo2_opt-6.7b.nsys-rep" > "$OUT/nsys_stats.log" 2>&1
      rc=$((rc + $?)); rm -f "$OUT/zo2_opt-6.7b.sqlite"; mv "$OUT"/nsys_*.csv /tmp/ 2>/dev/null
      # Every NVTX range (named as the plan's ops) with its start and duration on the GPU: the measured timeline
      # docs/FIGURES.md's figure 3 lacks; commit it under experiments/results/nsys/.
      $nsys stats --report nvtx_gpu_proj_trace --format csv --output "$OUT/nsys" "$OUT/zo2_opt-6.7b.nsys-rep" \
        >> "$OUT/nsys_stats.log" 2>&1; rc=$((rc + $?))
      ls -la "$OUT" | grep -i nsys | tee -a "$summary";;
    sanitize)  # compute-sanitizer's memcheck and racecheck on every GPU test case of the engine
      cs=$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2>/dev/null | head -1)
      rc=0
      for tool in memcheck racecheck; do
        "$cs" --tool $tool --error-exitcode 9 --print-limit 20 ./build-gpu/tests/test_engine "*GPU*,*CUDA*,*cross-entropy*" \
          > "$OUT/sanitize_$tool.log" 2>&1; r=$?; rc=$((rc + r))
        note "compute-sanitizer $tool: rc=$r, $(grep -E "ERROR SUMMARY|RACECHECK SUMMARY" "$OUT/sanitize_$tool.log" | tail -1); $(grep -E "^test cases|All tests passed" "$OUT/sanitize_$tool.log" | tail -1)"
      done
      # racecheck reports hazards inside cuBLAS's nvjet and cuDNN's kernels (their own synchronisation, outside this
      # project); checked again on this project's kernels only (their names carry the zo2 namespace).
      "$cs" --tool racecheck --kernel-name kns=zo2 --error-exitcode 9 --print-limit 20 ./build-gpu/tests/test_engine \
        "*GPU*,*CUDA*,*cross-entropy*" > "$OUT/sanitize_racecheck_zo2.log" 2>&1; r=$?; rc=$((rc + r))
      note "compute-sanitizer racecheck, zo2 kernels only: rc=$r, $(grep -E "ERROR SUMMARY|RACECHECK SUMMARY" "$OUT/sanitize_racecheck_zo2.log" | tail -1)";;
    codec)  # the lossless wire codec on the GPU: its exactness test, then decode and encode GB/s per block size
      ./build-gpu/tests/test_engine "*wire codec*" > "$OUT/codec_test.log" 2>&1; rc=$?
      note "codec test: $(grep -E "^test cases|All tests passed|FAILED" "$OUT/codec_test.log" | tail -2 | tr '\n' ' ')"
      ./build-gpu/benchmarks/bench_engine_wire_codec --benchmark_out="$OUT/bench_wire_codec.json" \
        --benchmark_out_format=json > "$OUT/bench_wire_codec.log" 2>&1; rc=$((rc + $?))
      grep -E "BM_" "$OUT/bench_wire_codec.log" | tee -a "$summary";;
    unchanged)  # the same runs from the last landed engine (.old-src, carried) and from this tree, alternating
      old=/tmp/zo2-old; rc=0
      if [ ! -x $old/build-gpu/zo2 ]; then
        cp -a .old-src $old && (cd $old && ZO2_BUILD_DIR=build-gpu scripts/build.sh -DCMAKE_CUDA_ARCHITECTURES=90 \
          -DZO2_BUILD_TESTS=OFF -DZO2_BUILD_BENCHMARKS=OFF > "$OUT/build_old.log" 2>&1) || rc=1
      fi
      for policy in "--offload none" "--offload all --prefetch 1 --writeback 1" \
                    "--offload all --prefetch 2 --writeback 4 --prefetch-next on"; do
        model=opt-13b; [ "$policy" = "--offload none" ] && model=opt-6.7b
        for which in old new old new; do
          bin=./build-gpu/zo2; [ $which = old ] && bin=$old/build-gpu/zo2
          $bin train --model $model --steps 8 --batch 1 --seq 2048 --device cuda --dtype fp16 --lr 1e-7 --eps 1e-3 \
            --seed 1 $policy > "$OUT/unchanged.log" 2>&1 || rc=$((rc + 1))
          note "unchanged $which $model $policy: $(tail -1 "$OUT/unchanged.log")"
        done
      done;;
    *) echo "unknown stage $stage"; rc=1;;
  esac
  note "stage $stage: rc=$rc, $(( $(date +%s) - start )) s"
done
# At most 8 files come back: logs go into one archive.
(cd "$OUT" && tar czf logs.tar.gz ./*.log 2>/dev/null && rm -f ./*.log)
echo "==== summary"; cat "$summary"
