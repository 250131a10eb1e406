#!/usr/bin/env python3
"""Predicted wall time of the MeZO paper's OPT recipe (SST-2, batch 16, 20,000 steps) for OPT-13B/30B/66B/175B on
each measured card profile: `zo2 simulate` gives one steady-state step (a whole write-back cycle averaged), times the
number of steps. Rows to a CSV (one per model x profile x policy); evaluation and checkpoint time are not included.

Policies: "resident" (every block on the GPU; a row says fits_gpu_memory 0 where it does not fit), "peer" (every
block offloaded, prefetch 1, write-back every step: the ZO2 paper's schedule) and "ours" (every block offloaded,
prefetch 2, write-back every 4 steps, next step's first blocks prefetched).
Sequence: 128 tokens, an upper bound for SST-2 (MeZO pads each batch to its longest prompt + label word, which for
SST-2 in OPT's tokenizer stays under 128), so the times are upper bounds for that workload.

    python3 experiments/opt_recipe_walltime.py [--zo2 build/zo2] [--out experiments/results/opt_mezo_recipe_walltime.csv]
"""
import argparse
import csv
import json
import os
import pathlib
import subprocess
import sys

REPO = pathlib.Path(__file__).resolve().parents[1]
MODELS = ["opt-13b", "opt-30b", "opt-66b", "opt-175b"]
PROFILES = ["h200-measured", "h100-measured"]
POLICIES = {
    "resident": ["--offload", "none"],
    "peer": ["--offload", "all", "--prefetch", "1", "--writeback", "1"],
    "ours": ["--offload", "all", "--prefetch", "2", "--writeback", "4", "--prefetch-next", "on"],
}
COLUMNS = ["model", "profile", "card", "policy", "dtype", "batch", "seq", "steps", "step_seconds",
           "predicted_hours", "fits_gpu_memory", "fits_host_memory", "peak_gpu_gib", "peak_host_gib"]


def simulate(zo2, model, profile, policy_flags, batch, seq, dtype):
    cmd = [zo2, "simulate", "--model", model, "--profile", profile, "--batch", str(batch), "--seq", str(seq),
           "--dtype", dtype, "--format", "json", *policy_flags]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    if proc.returncode != 0:
        sys.exit(f"opt_recipe_walltime: {' '.join(cmd)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return json.loads(proc.stdout)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--zo2", default=os.environ.get("ZO2_BIN", str(REPO / "build" / "zo2")))
    ap.add_argument("--out", default=str(REPO / "experiments" / "results" / "opt_mezo_recipe_walltime.csv"))
    ap.add_argument("--steps", type=int, default=20000)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--dtype", default="fp16")
    args = ap.parse_args(argv)
    if not pathlib.Path(args.zo2).exists():
        sys.exit(f"opt_recipe_walltime: --zo2 {args.zo2} not found (build first, or set ZO2_BIN)")
    rows = []
    for model in MODELS:
        for profile in PROFILES:
            for name, flags in POLICIES.items():
                r = simulate(args.zo2, model, profile, flags, args.batch, args.seq, args.dtype)
                rows.append({
                    "model": model, "profile": profile, "card": r["card"], "policy": name, "dtype": args.dtype,
                    "batch": args.batch, "seq": args.seq, "steps": args.steps,
                    "step_seconds": f"{r['step_seconds']:.6f}",
                    "predicted_hours": f"{r['step_seconds'] * args.steps / 3600:.2f}",
                    "fits_gpu_memory": int(r["fits_gpu_memory"]), "fits_host_memory": int(r["fits_host_memory"]),
                    "peak_gpu_gib": f"{r['peak_gpu_bytes'] / 2**30:.1f}",
                    "peak_host_gib": f"{r['peak_host_bytes'] / 2**30:.1f}",
                })
    out = pathlib.Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    with open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, COLUMNS)
        w.writeheader()
        w.writerows(rows)
    os.replace(tmp, out)
    for r in rows:
        print(f"{r['model']:9} {r['profile']:14} {r['policy']:9} {r['step_seconds']:>10} s/step "
              f"{r['predicted_hours']:>8} h  fits_gpu {r['fits_gpu_memory']}")
    print(f"{len(rows)} rows in {out}")


if __name__ == "__main__":
    main()
