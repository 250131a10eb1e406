#!/usr/bin/env python3
"""SmolLM2-135M on the project's SST-2-format sentiment set (experiments/sentiment_set.py): zero-shot accuracy, MeZO
fine-tuning over a small lr x eps grid with dev/test accuracy every --eval-every steps (python3 -m zo2.finetune,
SST-2's MeZO template "<sentence> It was great/terrible"), and a check that a run with every block offloaded has the
resident run's losses, projected gradients and accuracies bit for bit. All rows go to one CSV:
run, lr, eps, policy, step, split, metric, value (split "train": the step's loss and projected_grad).

    python3 scripts/smollm2_to_hf.py --out models/smollm2-135m
    python3 experiments/sentiment_mezo.py --model models/smollm2-135m --work runs/sentiment \
        [--steps 200 --batch 8 --lr 1e-5 3e-5 --eps 1e-3 --check-steps 8 --device cpu]
"""
import argparse
import csv
import os
import pathlib
import subprocess
import sys
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
COLUMNS = ["run", "lr", "eps", "policy", "step", "split", "metric", "value"]


def finetune(a, data, out, steps, lr, eps, eval_every, policy_flags, num_eval=None):
    cmd = [sys.executable, "-m", "zo2.finetune", "--task", "sst2", "--data", str(data), "--model", str(a.model),
           "--steps", str(steps), "--batch", str(a.batch), "--lr", repr(lr), "--eps", repr(eps),
           "--eval-every", str(eval_every), "--checkpoint-every", "0", "--num-train", str(a.num_train),
           "--num-dev", str(num_eval or a.num_dev), "--num-test", str(num_eval or a.num_test), "--seq", "64", "--max-new-tokens", "1",
           "--eval-batch", "32", "--seed", str(a.seed), "--device", a.device, "--out", str(out), "--no-progress",
           *policy_flags]
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO / "python") + os.pathsep + env.get("PYTHONPATH", "")
    t0 = time.time()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"sentiment_mezo: {' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    print(f"{out.name}: {time.time() - t0:.0f} s; {proc.stderr.strip().splitlines()[-1]}", flush=True)


def read(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def run_rows(name, lr, eps, policy, out):
    rows = []
    for r in read(out / "metrics.csv"):
        for metric in ("loss", "projected_grad"):
            rows.append([name, lr, eps, policy, r["step"], "train", metric, r[metric]])
    for r in read(out / "eval.csv"):
        rows.append([name, lr, eps, policy, r["step"], r["split"], r["metric"], r["value"]])
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="SmolLM2-135M HF directory (scripts/smollm2_to_hf.py)")
    ap.add_argument("--work", required=True, help="folder for the data set and the runs")
    ap.add_argument("--out", default=str(REPO / "experiments" / "results" / "sentiment_smollm2_mezo.csv"))
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--eval-every", type=int, default=50)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--lr", type=float, nargs="+", default=[1e-5, 3e-5])
    ap.add_argument("--eps", type=float, nargs="+", default=[1e-3])
    ap.add_argument("--num-train", type=int, default=1000)
    ap.add_argument("--num-dev", type=int, default=100)
    ap.add_argument("--num-test", type=int, default=200)
    ap.add_argument("--check-steps", type=int, default=8, help="steps of the resident / offloaded comparison")
    ap.add_argument("--check-eval", type=int, default=32, help="dev and test examples of that comparison")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data-seed", type=int, default=0, help="sentiment_set.py's seed")
    ap.add_argument("--device", default="cpu")
    a = ap.parse_args(argv)
    work = pathlib.Path(a.work)
    data = work / "data"
    subprocess.run([sys.executable, str(REPO / "experiments" / "sentiment_set.py"), "--out", str(data), "--seed",
                    str(a.data_seed)], check=True)
    rows = []
    # resident against offloaded: the same short run, every row equal
    check = {}
    for policy, flags in (("resident", []), ("offload-all", ["--offload", "all", "--prefetch", "1"])):
        out = work / f"check-{policy}"
        if not (out / "final").exists():
            finetune(a, data, out, a.check_steps, a.lr[0], a.eps[0], 0, flags, num_eval=a.check_eval)
        check[policy] = run_rows(f"check-{policy}", a.lr[0], a.eps[0], policy, out)
        rows += check[policy]
    same = [r[4:] for r in check["resident"]] == [r[4:] for r in check["offload-all"]]
    from safetensors.torch import load_file
    wa, wb = (load_file(str(work / f"check-{p}" / "final" / "model.safetensors")) for p in ("resident", "offload-all"))
    same_weights = wa.keys() == wb.keys() and all(bool((wa[k] == wb[k]).all()) for k in wa)
    print(f"offloaded run's {len(check['resident'])} rows (losses, projected gradients, accuracies) identical to "
          f"the resident run's: {same}; final weights identical: {same_weights}")
    same = same and same_weights
    if not same:
        sys.exit("sentiment_mezo: the offloaded run differs from the resident run")
    for lr in a.lr:
        for eps in a.eps:
            out = work / f"lr{lr:g}-eps{eps:g}"
            if not (out / "final").exists():
                finetune(a, data, out, a.steps, lr, eps, a.eval_every, [])
            rows += run_rows(out.name, lr, eps, "resident", out)
    outp = pathlib.Path(a.out)
    outp.parent.mkdir(parents=True, exist_ok=True)
    with open(outp, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(COLUMNS)
        w.writerows(rows)
    # the grid's best run by final dev accuracy; its test accuracy at that step
    finals = {}
    for r in rows:
        if r[0].startswith("lr") and int(r[4]) == a.steps and r[6] == "accuracy":
            finals.setdefault(r[0], {})[r[5]] = float(r[7])
    zero = {r[5]: float(r[7]) for r in rows if r[0].startswith("lr") and int(r[4]) == 0 and r[6] == "accuracy"}
    best = max(finals, key=lambda k: finals[k]["dev"])
    print(f"zero-shot: dev {zero['dev']:.3f} test {zero['test']:.3f}; best of grid {best}: dev "
          f"{finals[best]['dev']:.3f} test {finals[best]['test']:.3f} after {a.steps} steps; {len(rows)} rows in {outp}")


if __name__ == "__main__":
    main()
