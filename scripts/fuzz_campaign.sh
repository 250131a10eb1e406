#!/usr/bin/env bash
# The long fuzz campaign: each target of an existing fuzz build (scripts/fuzz.sh makes it, with its seeds) runs for
# RUNS executions (default 10 million) or MAX_SECONDS, whichever comes first, one process per target (in-process,
# as -jobs=1 would be but with its statistics in our log), at most $ZO2_FUZZ_PARALLEL at a time (default 1: one
# core), at nice $ZO2_FUZZ_NICE (default 19), inputs capped at $ZO2_FUZZ_MAX_LEN bytes (default 4096: the parsers' paths are all reached by
# inputs that small, and larger ones slow every execution; seeds past it are read truncated). Appends one row per (target, metric) to experiments/results/fuzz_campaign.csv (or $ZO2_FUZZ_CSV): executions, seconds, corpus_size, crashes.
# usage: scripts/fuzz_campaign.sh [RUNS] [MAX_SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-10000000}
max_seconds=${2:-36000}
build=${ZO2_FUZZ_BUILD_DIR:-build-fuzz}
csv=${ZO2_FUZZ_CSV:-experiments/results/fuzz_campaign.csv}
parallel=${ZO2_FUZZ_PARALLEL:-1}
max_len=${ZO2_FUZZ_MAX_LEN:-4096}
niceness=${ZO2_FUZZ_NICE:-19}
# One input running past this many seconds is a hang. Generous: on a loaded machine a niced process can stall for
# seconds, and a 10 s limit reported such stalls (inputs that rerun in under a second) as hangs.
timeout=${ZO2_FUZZ_TIMEOUT:-60}
machine=${ZO2_MACHINE:-"cpu: $(nproc) cores ($(uname -n))"}
commit=${ZO2_COMMIT:-$(git rev-parse --short HEAD 2>/dev/null || echo unknown)}
date=$(date -u +%F)
# The fastest targets first, so that a campaign cut short has finished the most of them.
targets=(${ZO2_FUZZ_TARGETS:-fuzz_npy fuzz_sweep_spec fuzz_hf_config fuzz_safetensors_index fuzz_plan_json fuzz_profile fuzz_safetensors})
declare -A dict=([fuzz_safetensors]=safetensors [fuzz_npy]=npy)
for t in "${targets[@]}"; do
  [ -x "$build/fuzz/$t" ] && [ -d "$build/seeds/$t" ] || { echo "fuzz_campaign: $build/$t or its seeds missing: run scripts/fuzz.sh first" >&2; exit 1; }
done
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
mkdir -p "$build/campaign"
one() {
  local t=$1 corpus="$build/corpus/$t" log="$build/campaign/$t.log" start end rc=0
  mkdir -p "$corpus" "$build/campaign/artifacts"
  start=$(date +%s.%N)
  nice -n "$niceness" "$build/fuzz/$t" "$corpus" "$build/seeds/$t" -runs="$runs" -max_total_time="$max_seconds" -max_len="$max_len" \
    -timeout="$timeout" -rss_limit_mb=2048 -dict="fuzz/${dict[$t]:-json}.dict" -print_final_stats=1 \
    -artifact_prefix="$build/campaign/artifacts/$t-" >"$log" 2>&1 || rc=$?
  end=$(date +%s.%N)
  echo "$rc $(awk "BEGIN{print $end - $start}")" >"$build/campaign/$t.result"
}
# One target's rows, appended as soon as it ends (a campaign cut short keeps what finished).
rows() {
  local t=$1 rc seconds execs corpus crashes
  read -r rc seconds <"$build/campaign/$t.result"
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$build/campaign/$t.log" | tail -1)
  corpus=$(find "$build/corpus/$t" -type f | wc -l)
  crashes=$(find "$build/campaign/artifacts" -name "$t-*" | wc -l)
  (
    flock 9
    [ -s "$csv" ] || echo "commit,date,machine,sanitizers,target,metric,value,unit" >"$csv"
    for row in "executions,${execs:-0},inputs" "seconds,$seconds,s" "corpus_size,$corpus,inputs" \
               "crashes,$crashes,inputs" "max_len,$max_len,bytes"; do
      echo "$commit,$date,$machine,address+undefined,$t,$row" >>"$csv"
    done
  ) 9>>"$csv.lock"
  printf '%-24s executions %10s  seconds %8.0f  corpus %6s  crashes %s (exit %s)\n' "$t" "${execs:-?}" "$seconds" \
    "$corpus" "$crashes" "$rc"
  [ "$rc" -eq 0 ] && [ "$crashes" -eq 0 ]
}
status=0
running=0
for t in "${targets[@]}"; do
  ( one "$t"; rows "$t" ) &
  running=$((running + 1))
  if [ "$running" -ge "$parallel" ]; then wait -n || status=1; running=$((running - 1)); fi
done
while [ "$running" -gt 0 ]; do wait -n || status=1; running=$((running - 1)); done
rm -f "$csv.lock"
exit $status
