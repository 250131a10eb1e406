#!/usr/bin/env bash
# One call on the GPU machine: unpack the carried Debian packages, build, run the GPU tests, the kernel benchmarks and
# the speed runs, write logs and results rows under $OUT, and print a short table last.
# Usage (from the repo root, with .deps carried):
#   scripts/gpu_session.sh [build] [test] [bench] [calibrate] [speed] [offload] [small] [ablation] [wire] [wirehost]
#                          [hostcpu] [budget] [big] [ncu] [nsys] [overlap] [llama] [pyloop]
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

# One zo2 train run, batch 1, sequence 2048, random init, fp16 unless DTYPE says; results rows to $OUT/results.csv.
train() {
  local model=$1 tag=$2; shift 2
  ./build-gpu/zo2 train --model "$model" --steps "${STEPS:-8}" --batch 1 --seq 2048 --device cuda --dtype "${DTYPE:-fp16}" \
    --lr 1e-7 --eps 1e-3 --seed 1 --results "$OUT/results.csv" "$@" > "$OUT/train.log" 2>&1
  local rc=$?
  cat "$OUT/train.log" >> "$OUT/train_all.log"
  note "$tag $model $*: $(tail -1 "$OUT/train.log")"
  return $rc
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
    llama)  # LLaMA shapes: 7B and 8B resident, 13B with every block offloaded (random init, as the OPT rows)
      rc=0
      for model in llama-2-7b llama-3-8b; do
        STEPS=10 train "$model" llama --offload none; rc=$((rc + $?))
      done
      for policy in "--prefetch 1 --writeback 1" "--prefetch 2 --writeback 4 --prefetch-next on"; do
        train llama-2-13b llama --offload all $policy; rc=$((rc + $?))
      done;;
    pyloop)  # import zo2's loop against zo2 train: OPT-1.3B offloaded, OPT-6.7B resident (benchmarks/python_loop_tps.py)
      PYTHONPATH=$PWD/python:$PWD/build-gpu/python python3 benchmarks/python_loop_tps.py --zo2 build-gpu/zo2 \
        --out "$OUT/python_loop.csv" 2>&1 | tee -a "$summary"; rc=${PIPESTATUS[0]};;
    overlap)  # a block's forward beside another block's ZO pass on a second stream: how much ZO time could hide
      ./build-gpu/benchmarks/bench_engine_overlap --benchmark_out="$OUT/bench_overlap.json" --benchmark_out_format=json \
        > "$OUT/bench_overlap.log" 2>&1; rc=$?
      grep -E "BM_" "$OUT/bench_overlap.log" | tee -a "$summary";;
    speed)  # the whole model resident; SM clock, power and throttle reasons logged beside it (resident steps run
      # slower than their isolated op timings: clocks under sustained load are one suspect)
      rc=0
      nvidia-smi --query-gpu=timestamp,clocks.sm,clocks.mem,power.draw,temperature.gpu,clocks_throttle_reasons.active \
        --format=csv -lms 200 > "$OUT/clocks.log" 2>&1 &
      smi=$!
      for model in opt-1.3b opt-6.7b opt-13b; do
        for fold in on off; do  # --fold-update off: ZO2's order (the A/B of the folded restore, same machine)
          STEPS=20 train "$model" resident --offload none --fold-update $fold; rc=$((rc + $?))
        done
      done
      kill $smi 2>/dev/null
      note "SM clock MHz during speed: $(awk -F', ' 'NR>1 {print $2}' "$OUT/clocks.log" | sort -n | uniq -c | sort -rn | head -3 | tr '\n' ' ')";;
    offload)  # every block offloaded: the peer-like policy and the best exact one (with and without overlapping the
      # next step's first uploads with this step's tail), 1.3B to 30B
      rc=0
      for model in opt-1.3b opt-6.7b opt-13b opt-30b; do
        for policy in "--prefetch 1 --writeback 1" "--prefetch 2 --writeback 4" \
                      "--prefetch 2 --writeback 4 --prefetch-next on"; do
          train "$model" offload --offload all $policy; rc=$((rc + $?))
        done
      done;;
    small)  # 1.3B, every block offloaded: the policies of `offload`, for its memory rows
      rc=0
      for policy in "--prefetch 1 --writeback 1" "--prefetch 2 --writeback 4" \
                    "--prefetch 2 --writeback 4 --prefetch-next on"; do
        train opt-1.3b offload --offload all $policy; rc=$((rc + $?))
      done;;
    wire)  # 6.7B, every block offloaded, prefetch 1: the link format with the GPU updating (wire = master = compute;
      # fp16 is the ablation's prefetch-1 row)
      rc=0
      for dtype in bf16 fp32; do DTYPE=$dtype train opt-6.7b wire --offload all --prefetch 1; rc=$((rc + $?)); done;;
    wirehost)  # the same with the wire below an fp32 master: the host updates its master (CPU-bound), fewer steps
      rc=0
      for wire in fp16 bf16 fp8; do
        STEPS=4 train opt-6.7b wire --offload all --prefetch 1 --master fp32 --wire $wire; rc=$((rc + $?))
      done;;
    hostcpu)  # the host's fused-ZO-pass rate on 1 thread and on all: does at::parallel_for scale here?
      lscpu | grep -E "Model name|^CPU\(s\)|Thread|MHz" | tee -a "$summary"
      rc=0
      for threads in 1 4 16; do
        OMP_NUM_THREADS=$threads ./build-gpu/benchmarks/bench_engine_zo_pass --benchmark_filter='BM_ZoPassCpu/0/1' \
          2>&1 | grep BM_ | sed "s/^/threads $threads: /" | tee -a "$summary"
      done;;
    ablation)  # 6.7B, every block offloaded, one knob at a time from the peer-like policy
      rc=0
      for policy in "--prefetch 0" "--prefetch 1" "--prefetch 2" "--prefetch 4" "--prefetch 1 --slots alloc" \
                    "--prefetch 1 --overlap off" "--prefetch 2 --writeback 4" "--prefetch 2 --writeback 16" \
                    "--prefetch 1 --prefetch-next on"; do
        train opt-6.7b ablation --offload all $policy; rc=$((rc + $?))
      done;;
    budget)  # 30B under a 40 GB budget: the simulator's search picked the first 27 blocks resident
      train opt-30b budget --offload 27-47 --prefetch 2 --writeback 4 --gpu-mem-budget 40GB; rc=$?;;
    big)  # the 175B block shape, as deep as host memory holds
      rc=0
      for policy in "--prefetch 1 --writeback 1" "--prefetch 2 --writeback 4"; do
        STEPS=6 train opt-175b big --layers 16 --offload all $policy; rc=$((rc + $?))
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
      ls -la "$OUT" | grep -i nsys | tee -a "$summary";;
    *) echo "unknown stage $stage"; rc=1;;
  esac
  note "stage $stage: rc=$rc, $(( $(date +%s) - start )) s"
done
# At most 8 files come back: logs go into one archive.
(cd "$OUT" && tar czf logs.tar.gz ./*.log 2>/dev/null && rm -f ./*.log)
echo "==== summary"; cat "$summary"
