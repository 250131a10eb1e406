#!/usr/bin/env python3
"""SmolLM2-135M on the project's SST-2-format sentiment set: zero-shot accuracy, MeZO over a small lr x eps grid with
dev/test accuracy against steps, and a check that a run with every block offloaded has the resident run's losses,
projected gradients, accuracies and final weights bit for bit (PASS/FAIL). All rows go to one CSV (figure 7 of
analysis/reproduce.py reads it).

The data (experiments/sentiment_set.py, seeded): templated film-review sentences built from word lists (an aspect
of a film, a positive or negative adjective, sometimes intensified); a third are negated ("was not moving": the label
flips) and a quarter are contrasts ("X , but Y": Y's label), lower-cased and space-tokenised like SST-2, written as
GLUE's train.tsv (2,000 rows) and dev.tsv (1,000). As MeZO samples SST-2: train and dev are a seeded split of
train.tsv (--num-train, --num-dev), test is drawn from dev.tsv (--num-test); MeZO's template "<sentence> It was"
with the label words great / terrible, the loss on the answer token, accuracy by candidate scoring.

The runs (python3 -m zo2.finetune's run, in this process so that torch and the device start once):
  zero-shot          the base model on dev and test (step 0; each grid run's step-0 evaluation must equal it)
  check-resident     --check-steps of MeZO at --check-lr, every block resident, evaluated at 0 and at the end
  check-offload-all  the same with every block offloaded (--offload all --prefetch 1): must equal the above
  lr<LR>-eps<EPS>    the grid, resident, --eval-points evaluations after step 0
With --budget-s the grid's steps are sized from the measured step and evaluation times so that the whole script
ends within the budget (capped at --steps), and where even the fewest evaluations at MeZO's sizes would not fit,
dev and test are cut (printed, FEWER EXAMPLES); the summary says what it chose.

CSV columns: run, lr, eps, policy, step, split, metric, value (split "train": the step's loss, projected_grad and
step_seconds), then steps, batch, model, device, card, commit, date.

    python3 experiments/sentiment_mezo.py --model DIR --work runs/sentiment --out rows.csv --device cuda \
        [--steps 4000 --budget-s 200 --lr 1e-5 3e-5 1e-4 --eps 1e-3]
"""
import argparse
import csv
import datetime
import gc
import os
import pathlib
import statistics
import subprocess
import sys
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "python"))
COLUMNS = ["run", "lr", "eps", "policy", "step", "split", "metric", "value", "steps", "batch", "model", "device",
           "card", "commit", "date"]
OFFLOAD_ALL = ["--offload", "all", "--prefetch", "1"]
# the fewest dev + test evaluations of a run of this script: zero-shot, the check pair's two each, three grid runs' two
MIN_EVALS = 11
MARGIN = 1.3  # the grid is sized to the budget left divided by this (step times drift, the last run's save)


def finetune_args(a, data, out, steps, lr, eps, eval_every, policy_flags):
    return ["--task", "sst2", "--data", str(data), "--model", str(a.model), "--steps", str(steps), "--batch",
            str(a.batch), "--lr", repr(lr), "--eps", repr(eps), "--eval-every", str(eval_every),
            "--checkpoint-every", "0", "--num-train", str(a.num_train), "--num-dev", str(a.num_dev), "--num-test",
            str(a.num_test), "--seq", "64", "--max-new-tokens", "1", "--eval-batch", str(a.eval_batch), "--seed",
            str(a.seed), "--device", a.device, "--out", str(out), "--no-progress", *policy_flags]


def finetune(argv):
    """One zo2.finetune run in this process; returns its wall seconds."""
    import torch
    from zo2 import finetune as F

    t0 = time.time()
    try:
        F.run(F.parse_args(argv))
    except (F.UsageError, F.DataError) as e:
        sys.exit(f"sentiment_mezo: zo2.finetune {' '.join(argv)}: {e}")
    gc.collect()  # the run's model goes with its frame; free its device memory before the next loads
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    return time.time() - t0


def read(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def run_rows(name, lr, eps, policy, out):
    rows = []
    for r in read(out / "metrics.csv"):
        for metric in ("loss", "projected_grad", "step_seconds"):
            rows.append([name, lr, eps, policy, int(r["step"]), "train", metric, r[metric]])
    for r in read(out / "eval.csv"):
        rows.append([name, lr, eps, policy, int(r["step"]), r["split"], r["metric"], r["value"]])
    return rows


def zero_shot(a, data, left):
    """(rows, load seconds, seconds of one dev + test evaluation) of the base model. With a budget, a probe of 64 dev
    examples first: where a dev + test evaluation at --num-dev / --num-test would make the fewest evaluations of the
    script (MIN_EVALS) take over half of the budget left, both are cut (a.num_dev, a.num_test), and the output says
    so."""
    import torch
    import zo2
    from zo2 import evaluate as ev
    from zo2.finetune import load_tokenizer
    from zo2.tasks import get_task, load_splits

    task = get_task("sst2")
    tok = load_tokenizer(a.model)
    t0 = time.time()
    model = zo2.load(str(a.model), device=a.device, dtype="fp32", seed=a.seed)
    load_s = time.time() - t0
    if left is not None:
        _, dev, _, _ = load_splits(task, data, a.num_train, a.num_dev, 0, 0)
        probe = dev[:64]
        t0 = time.time()
        ev.evaluate(model, tok, task, probe, 64, a.eval_batch, 1)
        per_example = (time.time() - t0) / len(probe)
        full = per_example * (a.num_dev + a.num_test)
        if MIN_EVALS * full > left / 2:
            cut = left / 2 / MIN_EVALS / full
            a.num_dev, a.num_test = max(16, int(a.num_dev * cut)), max(16, int(a.num_test * cut))
            print(f"sentiment_mezo: FEWER EXAMPLES than MeZO's: {per_example * 1e3:.1f} ms an example, so dev and "
                  f"test cut to {a.num_dev} and {a.num_test} for {MIN_EVALS} evaluations to fit half of the "
                  f"{left:.0f} s left", flush=True)
    _, dev, test, notes = load_splits(task, data, a.num_train, a.num_dev, a.num_test, 0)
    for note in notes:
        print(f"sentiment_mezo: {note}", flush=True)
    t0 = time.time()
    rows = []
    for split, exs in (("dev", dev), ("test", test)):
        for metric, value in ev.evaluate(model, tok, task, exs, 64, a.eval_batch, 1).items():
            rows.append(["zero-shot", "", "", "resident", 0, split, metric, f"{value:.6f}"])
    eval_s = time.time() - t0
    del model
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
        torch.cuda.empty_cache()
    return rows, load_s, eval_s, (len(dev), len(test))


def plan_grid(a, n_runs, left, step_s, eval_s, run_s):
    """(steps, eval_every, why) of each grid run: --steps and --eval-points, cut to fit `left` seconds given the
    measured seconds of a step, of a dev + test evaluation (with the save of a new best) and of a run's fixed part
    (load, tokenising, the final save)."""
    if a.budget_s is None:
        return a.steps, max(1, a.steps // a.eval_points), f"--steps {a.steps}, no --budget-s"
    per_run = left / MARGIN / n_runs
    for pts in range(a.eval_points, 0, -1):  # fewer evaluations before fewer steps
        fit = int((per_run - run_s - (pts + 1) * eval_s) / step_s)
        if fit >= 50 * pts:
            break
    steps = max(a.min_steps, min(a.steps, fit))
    pts = min(pts, steps)
    steps -= steps % pts
    why = (f"budget: {left:.0f} s left for {n_runs} runs, /{MARGIN} margin; step {step_s * 1e3:.1f} ms, evaluation "
           f"{eval_s:.1f} s, run overhead {run_s:.1f} s: {fit} steps fit")
    if fit > a.steps:
        why += f", --steps {a.steps} caps them"
    if fit < a.min_steps:
        why += f", OVER BUDGET: --min-steps {a.min_steps} run anyway"
    return steps, steps // pts, why


def card_name(device):
    if device.startswith("cuda"):
        import torch
        return torch.cuda.get_device_name(0)
    import platform
    return f"cpu ({platform.processor() or platform.machine()})"


def commit_of():
    if os.environ.get("ZO2_COMMIT"):
        return os.environ["ZO2_COMMIT"]
    proc = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return proc.stdout.strip() if proc.returncode == 0 and proc.stdout.strip() else "unknown"


def accuracy_by_step(rows, run, split):
    return {r[4]: float(r[7]) for r in rows if r[0] == run and r[5] == split and r[6] == "accuracy"}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="SmolLM2-135M HF directory (scripts/smollm2_to_hf.py)")
    ap.add_argument("--work", required=True, help="folder for the data set and the runs (must not hold runs)")
    ap.add_argument("--out", default=str(REPO / "experiments" / "results" / "sentiment_smollm2_mezo.csv"))
    ap.add_argument("--steps", type=int, default=200, help="steps of each grid run (the most, with --budget-s)")
    ap.add_argument("--budget-s", type=float, help="wall seconds for this whole script: sizes the grid's steps")
    ap.add_argument("--min-steps", type=int, default=10, help="grid steps even when the budget allows fewer")
    ap.add_argument("--eval-points", type=int, default=5, help="dev/test evaluations after step 0 per grid run")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, nargs="+", default=[1e-5, 3e-5, 1e-4])
    ap.add_argument("--eps", type=float, nargs="+", default=[1e-3])
    ap.add_argument("--num-train", type=int, default=1000)
    ap.add_argument("--num-dev", type=int, default=500)
    ap.add_argument("--num-test", type=int, default=1000)
    ap.add_argument("--eval-batch", type=int, default=32)
    ap.add_argument("--check-steps", type=int, default=100, help="steps of the resident / offloaded comparison")
    ap.add_argument("--check-lr", type=float, help="its learning rate (default: the grid's middle)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data-seed", type=int, default=0, help="sentiment_set.py's seed")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--model-name", default="SmolLM2-135M-Instruct", help="the CSV's model column")
    a = ap.parse_args(argv)
    for name in ("steps", "min_steps", "eval_points", "batch", "check_steps", "eval_batch"):
        if getattr(a, name) < 1:
            ap.error(f"--{name.replace('_', '-')}: expected a positive integer, got {getattr(a, name)}")
    if a.budget_s is not None and a.budget_s <= 0:
        ap.error(f"--budget-s: expected a positive number of seconds, got {a.budget_s}")
    if not pathlib.Path(a.model, "config.json").exists():
        ap.error(f"--model: {a.model}/config.json not found (make the directory with scripts/smollm2_to_hf.py)")
    t_start = time.time()
    work = pathlib.Path(a.work)
    if work.exists() and any(work.glob("*/run.json")):
        ap.error(f"--work: {work} already holds runs; give an empty or new folder")
    data = work / "data"
    import sentiment_set  # experiments/sentiment_set.py: this script's folder is on sys.path
    sentiment_set.main(["--out", str(data), "--seed", str(a.data_seed)])
    meta = [None, a.batch, a.model_name, a.device, card_name(a.device), commit_of(),
            datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")]

    left = a.budget_s - (time.time() - t_start) if a.budget_s is not None else None
    rows, load_s, eval_s, (n_dev, n_test) = zero_shot(a, data, left)
    zero = {r[5]: float(r[7]) for r in rows}
    print(f"zero-shot: dev {zero['dev']:.3f} ({n_dev}), test {zero['test']:.3f} ({n_test}); load {load_s:.1f} s, "
          f"eval {eval_s:.1f} s", flush=True)
    steps_of = {"zero-shot": 0}

    # resident against offloaded: the same run, every row and the final weights equal
    check_lr = a.check_lr if a.check_lr is not None else sorted(a.lr)[len(a.lr) // 2]
    check = {}
    for policy, flags in (("resident", []), ("offload-all", OFFLOAD_ALL)):
        name = f"check-{policy}"
        out = work / name
        wall = finetune(finetune_args(a, data, out, a.check_steps, check_lr, a.eps[0], a.check_steps, flags))
        check[policy] = run_rows(name, check_lr, a.eps[0], policy, out)
        rows += check[policy]
        steps_of[name] = a.check_steps
        step_times = [float(r[7]) for r in check[policy] if r[6] == "step_seconds"]
        print(f"{name}: {wall:.1f} s, mean step {statistics.mean(step_times) * 1e3:.1f} ms", flush=True)
        if policy == "resident":  # the grid's costs: its mean step, and the rest of a run beside steps and evals
            step_s = statistics.mean(step_times)
            run_s = max(load_s, wall - sum(step_times) - 2 * eval_s)

    def comparable(rs):  # step_seconds is a timing, not a result
        return [r[4:] for r in rs if r[6] != "step_seconds"]

    same_rows = comparable(check["resident"]) == comparable(check["offload-all"])
    from safetensors.torch import load_file
    wa, wb = (load_file(str(work / f"check-{p}" / "final" / "model.safetensors")) for p in ("resident", "offload-all"))
    same_weights = wa.keys() == wb.keys() and all(bool((wa[k] == wb[k]).all()) for k in wa)
    n_cmp = len(comparable(check["resident"]))
    check_ok = same_rows and same_weights
    check_line = (f"offload check {'PASS' if check_ok else 'FAIL'}: {a.check_steps} steps at lr {check_lr:g}, "
                  f"{n_cmp} rows (losses, projected gradients, dev/test accuracies) identical: {same_rows}; final "
                  f"weights identical: {same_weights}")
    print(check_line, flush=True)

    # the grid, sized to the budget left
    grid = [(lr, eps) for lr in a.lr for eps in a.eps]
    left = a.budget_s - (time.time() - t_start) if a.budget_s is not None else 0.0
    steps, eval_every, why = plan_grid(a, len(grid), left, step_s, eval_s + run_s / 3, run_s)
    print(f"grid: {len(grid)} runs of {steps} steps, evaluated every {eval_every}; {why}", flush=True)
    for lr, eps in grid:
        name = f"lr{lr:g}-eps{eps:g}"
        wall = finetune(finetune_args(a, data, work / name, steps, lr, eps, eval_every, []))
        rows += run_rows(name, lr, eps, "resident", work / name)
        steps_of[name] = steps
        print(f"{name}: {wall:.1f} s", flush=True)

    outp = pathlib.Path(a.out)
    outp.parent.mkdir(parents=True, exist_ok=True)
    with open(outp, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(COLUMNS)
        w.writerows(r + [steps_of[r[0]]] + meta[1:] for r in rows)

    # the summary: zero-shot, each grid point, the best by dev accuracy and its test accuracy against steps
    names = [f"lr{lr:g}-eps{eps:g}" for lr, eps in grid]
    step0_same = all(accuracy_by_step(rows, n, s).get(0) == zero[s] for n in names for s in ("dev", "test"))
    best_of = {}
    for n in names:
        dev = accuracy_by_step(rows, n, "dev")
        later = {s: v for s, v in dev.items() if s > 0}
        at = max(later, key=lambda s: (later[s], -s))  # the earliest step of the run's highest dev accuracy
        best_of[n] = (later[at], at)
    best = max(names, key=lambda n: (best_of[n][0], -names.index(n)))
    losses = {n: [float(r[7]) for r in rows if r[0] == n and r[6] == "loss"] for n in names}
    k = max(1, steps // 10)
    print(f"\n== SmolLM2-135M, MeZO on the generated SST-2-format set ({meta[4]}, {meta[5]}, {meta[6]}) ==")
    print(f"data: {a.num_train} train, {n_dev} dev, {n_test} test"
          + ("" if (a.num_train, n_dev, n_test) == (1000, 500, 1000) else " (FEWER than MeZO's 1000 / 500 / 1000)")
          + f"; batch {a.batch}; {steps} steps per grid run, eval every {eval_every}")
    print(f"{'run':<20}{'dev@best':>9}{'at step':>8}{'dev@end':>8}{'test@end':>9}{'loss first/last ' + str(k):>22}")
    print(f"{'zero-shot':<20}{zero['dev']:>9.3f}{0:>8}{zero['dev']:>8.3f}{zero['test']:>9.3f}{'':>22}")
    for n in names:
        dev, test = accuracy_by_step(rows, n, "dev"), accuracy_by_step(rows, n, "test")
        ls = losses[n]
        print(f"{n:<20}{best_of[n][0]:>9.3f}{best_of[n][1]:>8}{dev[steps]:>8.3f}{test[steps]:>9.3f}"
              f"{statistics.mean(ls[:k]):>11.3f}/{statistics.mean(ls[-k:]):<10.3f}")
    test = accuracy_by_step(rows, best, "test")
    print(f"best by dev: {best} (dev {best_of[best][0]:.3f} at step {best_of[best][1]}): test "
          f"{test[best_of[best][1]]:.3f} there, zero-shot test {zero['test']:.3f}; test against steps: "
          + ", ".join(f"{s}: {v:.3f}" for s, v in sorted(test.items())))
    print(f"grid runs' step-0 accuracies equal the zero-shot run's: {step0_same}")
    print(check_line)
    print(f"{len(rows)} rows in {outp}; {time.time() - t_start:.0f} s")
    if not check_ok:
        sys.exit("sentiment_mezo: FAIL: the offloaded run differs from the resident run")


if __name__ == "__main__":
    main()
