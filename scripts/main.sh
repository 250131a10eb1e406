#!/usr/bin/env bash
# The main job: the paper's figures from this project's measured rows and its simulator on the committed profiles
# (figures/*.png|svg, docs/FIGURES.md, docs/RESULTS.md), on the CPU. Arguments go to analysis/reproduce.py:
# `scripts/main.sh --measure ablation` on a GPU machine runs that spec (experiments/specs/engine/) first.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/python-env.sh
"$ZO2_PYTHON" analysis/reproduce.py --zo2 "${ZO2_BUILD_DIR:-build}/zo2" "$@"
