#!/usr/bin/env bash
# One call on the GPU machine: the SmolLM2-135M sentiment experiment (experiments/sentiment_mezo.py) within a wall
# budget, offline: the gguf and accelerate wheels installed into a --target folder, the GGUF converted, rows and logs
# written under OUTDIR.
# Usage (from the repo root, the module built into $ZO2_BUILD_DIR/python):
#   experiments/sentiment_gpu.sh OUTDIR [sentiment_mezo.py flags, which override the defaults below]
# Environment: SMOL (default /tmp/smol: SmolLM2-135M-Instruct.Q4_1.gguf and wheels/*.whl), ZO2_BUILD_DIR (build-gpu),
# ZO2_PYTHON (python3), DEVICE (cuda), BUDGET_S (240: the whole script's wall seconds), WORK (a fresh temp folder).
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { echo "usage: experiments/sentiment_gpu.sh OUTDIR [sentiment_mezo.py flags]" >&2; exit 2; }
outdir=$1
shift
start=$(date +%s)
smol=${SMOL:-/tmp/smol}
gguf=$smol/SmolLM2-135M-Instruct.Q4_1.gguf
build=${ZO2_BUILD_DIR:-build-gpu}
case $build in /*) ;; *) build=$PWD/$build ;; esac
py=${ZO2_PYTHON:-python3}
device=${DEVICE:-cuda}
budget=${BUDGET_S:-240}
work=${WORK:-$(mktemp -d /tmp/sentiment-XXXXXX)}
mkdir -p "$outdir" "$work"
log=$outdir/sentiment.log
: > "$log"
say() { echo "sentiment_gpu: $*" | tee -a "$log"; }

[ -f "$gguf" ] || { say "error: $gguf not found (set SMOL to the folder holding the GGUF and wheels/)"; exit 2; }
[ -d "$build/python" ] || { say "error: $build/python not found (build the module, or set ZO2_BUILD_DIR)"; exit 2; }
shopt -s nullglob
wheels=("$smol"/wheels/*.whl)
site=$work/site
if [ ${#wheels[@]} -gt 0 ]; then
  # --no-deps --no-index: no network; their dependencies (numpy, pyyaml, torch, ...) come with transformers
  if ! "$py" -m pip install -q --no-deps --no-index --disable-pip-version-check --target "$site" "${wheels[@]}" \
      >> "$log" 2>&1; then
    say "pip failed (see $log); unpacking the wheels instead (pure-Python wheels are zip files)"
    "$py" -c 'import sys, zipfile; [zipfile.ZipFile(w).extractall(sys.argv[1]) for w in sys.argv[2:]]' "$site" \
      "${wheels[@]}"
  fi
fi
export PYTHONPATH="$PWD/python:$build/python:$site${PYTHONPATH:+:$PYTHONPATH}"
export ZO2_BIN=${ZO2_BIN:-$build/zo2}
export ZO2_COMMIT=${ZO2_COMMIT:-$(git rev-parse --short HEAD 2>/dev/null || echo unknown)}
export PYTHONUNBUFFERED=1
if ! "$py" -c 'import gguf, accelerate, transformers, torch, zo2; print("gguf", gguf.__file__, "| accelerate",
accelerate.__version__, "| transformers", transformers.__version__, "| torch", torch.__version__,
"| cuda", torch.cuda.is_available() and torch.cuda.get_device_name(0))' 2>&1 | tee -a "$log"; then
  say "error: the imports above failed (PYTHONPATH=$PYTHONPATH)"
  exit 2
fi

"$py" scripts/smollm2_to_hf.py --gguf "$gguf" --out "$work/model" > "$work/convert.log" 2>&1 \
  || { cat "$work/convert.log" >> "$log"; say "error: scripts/smollm2_to_hf.py failed (log above)"; exit 2; }
tail -n 1 "$work/convert.log" | tee -a "$log"
left=$(( budget - ($(date +%s) - start) ))
say "set-up took $(( $(date +%s) - start )) s; $left s left for the experiment"
if [ "$left" -lt 60 ]; then  # a slow set-up: still run, at the smallest sizes the budget logic picks
  say "warning: $left s left of BUDGET_S=$budget; running with 60 s (the run will end past the budget)"
  left=60
fi

# The defaults: MeZO's data sizes (1000 / 500 / 1000), batch 16, lr 1e-5 .. 1e-4 at eps 1e-3, at most 4000 steps
# a run, cut to the budget; later flags (the script's arguments) override them.
set +e
"$py" experiments/sentiment_mezo.py --model "$work/model" --work "$work/runs" --device "$device" \
  --out "$outdir/sentiment_smollm2_mezo.csv" --budget-s "$left" --steps 4000 --eval-points 5 --batch 16 \
  --lr 1e-5 3e-5 1e-4 --eps 1e-3 --num-train 1000 --num-dev 500 --num-test 1000 --eval-batch 64 \
  --check-steps 50 "$@" 2>&1 | tee -a "$log"
rc=${PIPESTATUS[0]}
set -e
say "rc $rc, $(( $(date +%s) - start )) s in all; rows in $outdir/sentiment_smollm2_mezo.csv, log in $log"
exit "$rc"
