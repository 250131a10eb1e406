#!/usr/bin/env bash
# The main job on a machine without a GPU: MeZO-train OPT-125m (random init) for a few steps on the CPU, save it as a
# HuggingFace checkpoint, read it back with zo2 forward, and predict an OPT-175B step on an H100 with the simulator.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/python-env.sh
zo2=${ZO2_BUILD_DIR:-build}/zo2
out=${ZO2_OUT:-build/main-job}
mkdir -p "$out"
"$zo2" train --model opt-125m --steps 4 --batch 1 --seq 64 --lr 1e-6 --eps 1e-3 --seed 1 \
  --save "$out/opt-125m-zo" --metrics "$out/train-metrics.csv"
"$ZO2_PYTHON" -c 'import numpy as np; np.save("'"$out"'/ids.npy", np.arange(16, dtype=np.int64).reshape(1, 16))'
"$zo2" forward --model "$out/opt-125m-zo" --input-ids "$out/ids.npy" --out "$out/logits.npy"
"$ZO2_PYTHON" -c 'import numpy as np; l = np.load("'"$out"'/logits.npy"); print("logits", l.shape, l.dtype)'
"$zo2" simulate --model opt-175b --profile h100-targets --batch 1 --seq 2048 --format table
