#!/usr/bin/env python3
"""Drift of low-bit wire formats against fp32, per step: zo2 train on one small random OPT model, the same seed and
data, fp32 everywhere versus an fp32 host master with a bf16 / fp16 / fp8 wire (the GPU, or the CPU reference
executor, computes on the rounded copy; the host applies every update to its fp32 master). Writes results rows:
loss_abs_drift_step_N (|loss - loss_fp32| at step N) and param_rel_drift (||theta - theta_fp32|| / ||theta_fp32 -
theta_0|| after the last step, the drift measured in units of how far training moved the weights)."""
import argparse
import csv
import datetime
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
from safetensors.numpy import load_file
from transformers import OPTConfig, OPTForCausalLM

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "analysis"))
from results_rows import append_rows, current_commit  # noqa: E402



def train(zo2, model_dir, out, device, wire, steps, seq):
    args = [zo2, "train", "--model", model_dir, "--steps", str(steps), "--batch", "2", "--seq", str(seq),
            "--lr", "1e-3", "--eps", "1e-3", "--seed", "7", "--device", device, "--offload", "all",
            "--dtype", "fp32", "--master", "fp32", "--wire", wire, "--save", out + "/ckpt", "--metrics", out + "/m.csv"]
    subprocess.run(args, check=True, capture_output=True, text=True)
    with open(out + "/m.csv") as f:
        losses = [float(r["loss"]) for r in csv.DictReader(f)]
    return losses, load_file(out + "/ckpt/model.safetensors")


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--zo2", default="build/zo2")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--seq", type=int, default=32)
    ap.add_argument("--out", required=True)
    ap.add_argument("--commit", default=current_commit())
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        torch.manual_seed(0)
        config = OPTConfig(vocab_size=512, hidden_size=64, num_hidden_layers=4, ffn_dim=256, num_attention_heads=4,
                           max_position_embeddings=128, dropout=0.0)
        OPTForCausalLM(config).save_pretrained(tmp + "/start")
        start = load_file(tmp + "/start/model.safetensors")
        runs = {}
        for wire in ["fp32", "bf16", "fp16", "fp8"]:
            os.makedirs(f"{tmp}/{wire}")
            runs[wire] = train(a.zo2, tmp + "/start", f"{tmp}/{wire}", a.device, wire, a.steps, a.seq)
        ref_losses, ref_params = runs["fp32"]
        rows = []
        base = {"commit": a.commit, "date": datetime.date.today().isoformat(), "card": a.device,
                "driver": "", "executor": a.device, "model": "opt-random-4L-h64", "batch": 2, "seq": a.seq,
                "dtype": "fp32", "offload": "all", "prefetch": 1, "slots": "reuse", "overlap": "on", "master": "fp32",
                "writeback": 1, "prefetch_next": "off", "gpu_mem_budget": 0, "repeats": 1}
        for wire in ["bf16", "fp16", "fp8"]:
            losses, params = runs[wire]
            for step, (l, r) in enumerate(zip(losses, ref_losses)):
                rows.append({**base, "wire": wire, "metric": f"loss_abs_drift_step_{step}", "value": f"{abs(l - r):.6g}",
                             "unit": "nats"})
            keys = [k for k in ref_params if k.startswith("model.decoder.layers.")]
            num = sum(float(np.sum((params[k].astype(np.float64) - ref_params[k]) ** 2)) for k in keys) ** 0.5
            den = sum(float(np.sum((ref_params[k].astype(np.float64) - start[k]) ** 2)) for k in keys) ** 0.5
            rows.append({**base, "wire": wire, "metric": "param_rel_drift", "value": f"{num / den:.6g}", "unit": "ratio"})
            print(f"wire {wire}: loss drift per step {[round(abs(l - r), 6) for l, r in zip(losses, ref_losses)]}, "
                  f"offloaded-block drift / update size {num / den:.3g}")
    append_rows(a.out, rows)


if __name__ == "__main__":
    main()
