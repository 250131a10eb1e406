"""tok/s of the Python loop (zo2.MeZO.step) against `zo2 train` for the same model, policy and tokens, on one GPU.

Each configuration runs `zo2 train` (its own process, its results rows), then the same steps from Python in this
process with the CLI's timing rule (a device synchronize ends each step; statistics over the last half of the steps),
and checks that the two loss sequences are bitwise equal. Rows are appended to --out: the CLI's own rows, the Python
loop's tokens_per_second and step_seconds (executor "cuda-python", every other column the CLI's), and
python_over_cli_tps (their ratio). Usage, on the GPU machine after scripts/build.sh:

    python3 benchmarks/python_loop_tps.py --zo2 build-gpu/zo2 --out "$OUT/python_loop.csv"
"""
import argparse
import csv
import gc
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch

import zo2

# (model, policy flags): OPT-1.3B with every block offloaded, OPT-6.7B resident (fp16, batch 1, seq 2048).
CONFIGS = [
    ("opt-1.3b", {"offload": "all", "prefetch": 2, "writeback": 4, "prefetch_next": "on"}),
    ("opt-1.3b", {"offload": "all", "prefetch": 1, "writeback": 1}),
    ("opt-6.7b", {"offload": "none"}),
]


def flags(policy):
    out = []
    for k, v in policy.items():
        out += [f"--{k.replace('_', '-')}", str(v)]
    return out


def read_rows(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def run_cli(zo2_bin, model, policy, steps, seed, tmp):
    results, metrics = os.path.join(tmp, "cli.csv"), os.path.join(tmp, "steps.csv")
    for p in (results, metrics):
        if os.path.exists(p):
            os.remove(p)
    cmd = [zo2_bin, "train", "--model", model, "--steps", str(steps), "--batch", "1", "--seq", "2048", "--device",
           "cuda", "--dtype", "fp16", "--lr", "1e-7", "--eps", "1e-3", "--seed", str(seed), *flags(policy),
           "--results", results, "--metrics", metrics]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}")
    return read_rows(results), read_rows(metrics)


def run_python(model_name, policy, steps, seed):
    p = zo2.Policy(**{k: v for k, v in policy.items()})
    model = zo2.load(model_name, device="cuda", dtype="fp16", policy=p, seed=seed)
    opt = zo2.MeZO(model, lr=1e-7, eps=1e-3, seed=seed)
    batches = zo2.TokenBatches(None, model.vocab_size, 1, 2048, seed=seed)  # the CLI's random tokens, same seed
    seconds, losses = [], []
    for _ in range(steps):
        ids = next(batches)
        start = time.perf_counter()
        r = opt.step(ids)
        torch.cuda.synchronize()
        seconds.append(time.perf_counter() - start)
        losses.append((r.loss_plus, r.loss_minus))
    del opt, model
    gc.collect()
    torch.cuda.empty_cache()
    return seconds, losses


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--zo2", default="build/zo2")
    ap.add_argument("--out", required=True, help="results CSV to append to")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    if not torch.cuda.is_available() or not zo2.has_cuda:
        sys.exit("python_loop_tps: needs a GPU and a CUDA build of zo2")
    with tempfile.TemporaryDirectory() as tmp:
        for model, policy in CONFIGS:
            cli_rows, cli_steps = run_cli(args.zo2, model, policy, args.steps, args.seed, tmp)
            seconds, losses = run_python(model, policy, args.steps, args.seed)
            same = all(np.float32(a) == np.float32(row["loss_plus"]) and np.float32(b) == np.float32(row["loss_minus"])
                       for (a, b), row in zip(losses, cli_steps))
            half = seconds[len(seconds) // 2:]
            tps = [2048 / s for s in half]
            cli_tps = next(r for r in cli_rows if r["metric"] == "tokens_per_second")
            py_rows = []
            for metric, values, unit in (("tokens_per_second", tps, "tok/s"), ("step_seconds", half, "s")):
                row = dict(cli_tps)
                row.update(executor="cuda-python", metric=metric, unit=unit, repeats=str(len(values)),
                           value=f"{statistics.fmean(values):.6g}", min=f"{min(values):.6g}",
                           median=f"{statistics.median(values):.6g}", max=f"{max(values):.6g}")
                py_rows.append(row)
            ratio = statistics.fmean(tps) / float(cli_tps["value"])
            row = dict(cli_tps)
            row.update(executor="cuda-python", metric="python_over_cli_tps", unit="ratio", value=f"{ratio:.4f}",
                       min="", median="", max="")
            py_rows.append(row)
            zo2._native.append_result_rows(args.out, cli_rows + py_rows)
            print(f"{model} {policy}: zo2 train {float(cli_tps['value']):.0f} tok/s, Python loop "
                  f"{statistics.fmean(tps):.0f} tok/s ({100 * (ratio - 1):+.2f} %), losses bitwise equal: {same}",
                  flush=True)


if __name__ == "__main__":
    main()
