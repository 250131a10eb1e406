#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/, clang, ASan + UBSan) into build-fuzz/ (or $ZO2_FUZZ_BUILD_DIR), makes the seed
# corpora with Python's own libraries (fuzz/make_seeds.py) and runs each target for SECONDS (default 7). One line per
# target: executions, corpus size, crashes. Exits 1 naming every target that crashed, hung or leaked past its limits
# (the reproducer is under build-fuzz/artifacts/). Extra libFuzzer flags come from $ZO2_FUZZ_FLAGS (e.g. -runs=N).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/python-env.sh
seconds=${1:-7}
build=${ZO2_FUZZ_BUILD_DIR:-build-fuzz}
targets=(fuzz_safetensors fuzz_safetensors_index fuzz_npy fuzz_hf_config fuzz_profile fuzz_sweep_spec fuzz_plan_json)
command -v clang++ >/dev/null || { echo "fuzz: clang++ not found: run scripts/setup-debian.sh (clang, libclang-rt-14-dev)" >&2; exit 1; }

generator=(); command -v ninja >/dev/null && generator=(-G Ninja)
launcher=(); if command -v ccache >/dev/null; then
  export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$PWD} CCACHE_NOHASHDIR=${CCACHE_NOHASHDIR:-true}
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
mkdir -p "$build"
cmake -S . -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo "${launcher[@]}" \
  -DCMAKE_CXX_COMPILER=clang++ -DZO2_FUZZ=ON -DZO2_WITH_TORCH=OFF -DZO2_WITH_CUDA=OFF -DZO2_BUILD_TESTS=OFF \
  -DZO2_BUILD_BENCHMARKS=OFF >"$build/configure.log" 2>&1 || { cat "$build/configure.log" >&2; echo "fuzz: configure failed" >&2; exit 1; }
# zo2 itself writes the plan seeds (zo2 plan --format json).
cmake --build "$build" -j "${ZO2_JOBS:-$(nproc)}" --target "${targets[@]}" zo2

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
"$ZO2_PYTHON" fuzz/make_seeds.py --out "$build/seeds" --zo2 "$build/zo2"

declare -A dict=([fuzz_safetensors]=safetensors [fuzz_npy]=npy)
failed=()
rm -rf "$build/artifacts"  # this run's findings only
mkdir -p "$build/artifacts" "$build/logs"
for t in "${targets[@]}"; do
  corpus="$build/corpus/$t"
  mkdir -p "$corpus"
  log="$build/logs/$t.log"
  rc=0
  # -timeout: one input running longer than 10 s is a hang (a finding); -rss_limit_mb: so is more than 2 GB.
  "$build/fuzz/$t" "$corpus" "$build/seeds/$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -dict="fuzz/${dict[$t]:-json}.dict" -print_final_stats=1 -artifact_prefix="$build/artifacts/$t-" \
    ${ZO2_FUZZ_FLAGS:-} >"$log" 2>&1 || rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  crashes=$(find "$build/artifacts" -name "$t-*" | wc -l)
  printf '%-24s executions %10s  corpus %6s  crashes %s%s\n' "$t" "${execs:-?}" "$(find "$corpus" -type f | wc -l)" \
    "$crashes" "$([ "$rc" -ne 0 ] && echo "  (exit $rc, see $log)")"
  if [ "$rc" -ne 0 ] || [ "$crashes" -ne 0 ]; then failed+=("$t"); fi
done
if [ ${#failed[@]} -ne 0 ]; then
  echo "fuzz: findings in ${failed[*]} (inputs under $build/artifacts/, logs under $build/logs/)" >&2
  for t in "${failed[@]}"; do grep -m3 -E "ERROR|runtime error|SUMMARY|deadly|timeout" "$build/logs/$t.log" >&2 || true; done
  exit 1
fi
