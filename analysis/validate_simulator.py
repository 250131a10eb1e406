#!/usr/bin/env python3
"""Simulator validation: each measured engine configuration (executor=cuda rows of results CSVs) re-run through
`zo2 simulate` on a hardware profile; step-time and peak-memory errors written as results rows, a table and a figure.

  python3 analysis/validate_simulator.py experiments/results/offload_h200.csv --profile h200-measured \
      --out experiments/results/validation_h200.csv --figure experiments/results/validation_h200.png

Errors are simulated / measured - 1. Step time compares the simulator's step_seconds with the measured step_seconds
(the `value` column: the mean over the last half of the steps, or --stat median). Peak memory compares the
simulator's peak_gpu_bytes (the plan's predicted GPU terms with --slots reuse, the live-allocation peak with --slots
alloc; simulator/README.md) with the engine's peak_allocated_bytes (the caching allocator's peak of allocated bytes,
so the CUDA context and cached-but-free blocks are outside both).

Rows measured before commit 5c64509 read the allocator peak after the final flush, which allocates one more block
buffer when a block is offloaded (docs/METRICS.md): their peak is max(step, flush), not the step's. Their memory is
not compared (no peak_memory_error row; "flush" in the table) and a note says so; their step time is.
"""
import argparse
import datetime
import json
import os
import pathlib
import subprocess
import sys

import matplotlib

matplotlib.use("Agg")  # files only: no display on the build or GPU machines
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[1]

# The schema, once: core/results_csv.cc result_columns() and the knob table (analysis/knobs.json).
from results_rows import COLUMNS, FLAG, KNOBS, POLICY, current_commit, with_defaults  # noqa: E402
# A measured configuration: the columns that select the simulated plan (card separates machines).
CONFIG = ["card", "model", "batch", "seq"] + POLICY
# Results column -> `zo2 simulate` flag (an empty cell leaves the simulator's default). Every knob but the budget
# (a budget only refuses plans; the measured one ran). Knobs with a legacy value (fold_update, ...) are always passed:
# rows from before the column ran that (results_rows.DEFAULTS), which need not be the simulator's default.
FLAGS = {"batch": "--batch", "seq": "--seq", **{k["name"]: k["flag"] for k in KNOBS if k["search"] != "budget"}}


def fail(message):
    print(f"validate_simulator: error: {message}", file=sys.stderr)
    sys.exit(2)


def read_measured(paths, stat):
    frames = []
    for path in paths:
        if not pathlib.Path(path).exists():
            fail(f"{path}: no such file")
        # Rows from before prefetch_next or fold_update: those columns read as off (results_rows.DEFAULTS).
        df = with_defaults(pd.read_csv(path, dtype=str, keep_default_na=False))
        missing = [c for c in CONFIG + ["executor", "metric", stat] if c not in df.columns]
        if missing:
            fail(f"{path}: missing column(s) {', '.join(repr(c) for c in missing)} (expected the results columns of "
                 f"core/results_csv.cc)")
        df["source_file"] = str(path)
        frames.append(df)
    rows = pd.concat(frames, ignore_index=True)
    rows = rows[(rows["executor"] == "cuda") & rows["metric"].isin(["step_seconds", "peak_allocated_bytes"])]
    if rows.empty:
        fail(f"{', '.join(map(str, paths))}: no rows with executor=cuda and metric step_seconds or peak_allocated_bytes")
    configs = []
    for key, group in rows.groupby(CONFIG, sort=False):
        cfg = dict(zip(CONFIG, key))
        for metric in ("step_seconds", "peak_allocated_bytes"):
            sel = group[group["metric"] == metric]
            if len(sel) > 1:
                print(f"validate_simulator: note: {len(sel)} {metric} rows for {describe(cfg)}; using the last "
                      f"({sel['source_file'].iloc[-1]})", file=sys.stderr)
            value = sel[stat].iloc[-1] if len(sel) else ""
            if metric == "peak_allocated_bytes" and len(sel):
                cfg["peak_commit"] = sel["commit"].iloc[-1]
            if metric == "step_seconds" and value == "" and len(sel):
                fail(f"{sel['source_file'].iloc[-1]}: step_seconds row for {describe(cfg)} has an empty '{stat}'")
            cfg[metric] = float(value) if value != "" else None
            if metric == "step_seconds" and len(sel):
                # zo2 train times the last half of its steps: `repeats` steps after as many untimed ones.
                cfg["timed_steps"] = int(sel["repeats"].iloc[-1] or 0)
        if cfg["step_seconds"] is None:
            print(f"validate_simulator: note: {describe(cfg)} has no step_seconds row; skipped", file=sys.stderr)
            continue
        configs.append(cfg)
    return configs


# zo2 train reads its allocator peak before the final flush from this commit on (git show 5c64509).
PEAK_BEFORE_FLUSH_SINCE = "5c64509"


def peak_includes_flush(commit, offload):
    """True when the row's peak_allocated_bytes was read after trainer.flush() allocated a block buffer: the commit
    is a strict ancestor of PEAK_BEFORE_FLUSH_SINCE and some block is offloaded. Unknown commits (no git, a commit
    this checkout lacks) count as read before the flush."""
    if offload == "none" or not commit:
        return False

    def rev(c):
        proc = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--verify", "--quiet", f"{c}^{{commit}}"],
                              capture_output=True, text=True)
        return proc.stdout.strip() if proc.returncode == 0 else None

    row, fix = rev(commit), rev(PEAK_BEFORE_FLUSH_SINCE)
    if not row or not fix or row == fix:
        return False
    proc = subprocess.run(["git", "-C", str(REPO), "merge-base", "--is-ancestor", row, fix], capture_output=True)
    return proc.returncode == 0


def describe(cfg):
    return (f"{cfg['model']} b{cfg['batch']} s{cfg['seq']} {cfg['dtype']} offload={cfg['offload']} "
            f"prefetch={cfg['prefetch']} slots={cfg['slots']} overlap={cfg['overlap']} wire={cfg['wire']} "
            f"master={cfg['master']} writeback={cfg['writeback']}"
            + (" prefetch-next=on" if cfg["prefetch_next"] == "on" else "")
            + (" fold-update=on" if cfg["fold_update"] == "on" else ""))


def simulate(zo2, profile, cfg):
    model, _, depth = cfg["model"].partition(":")  # "opt-175b:16L": zo2 train --layers 16
    cmd = [zo2, "simulate", "--model", model, "--profile", profile, "--format", "json"]
    if depth:
        cmd += ["--layers", depth.rstrip("L")]
    if cfg.get("timed_steps"):  # simulate the steps that were timed (the early steps replay fewer updates)
        cmd += ["--first-step", str(cfg["timed_steps"]), "--steps", str(cfg["timed_steps"])]
    for column, flag in FLAGS.items():
        if cfg[column] != "":
            cmd += [flag, cfg[column]]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        fail(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr.strip()}")
    try:
        return json.loads(proc.stdout)
    except json.JSONDecodeError as e:
        fail(f"{' '.join(cmd)}: output is not JSON ({e})")


def rows_for(cfg, sim, commit, date):
    base = {c: "" for c in COLUMNS}
    base.update({c: cfg[c] for c in CONFIG})
    base.update(commit=commit, date=date, card=sim.get("card", cfg["card"]), driver=sim.get("driver", ""),
                executor="sim", repeats="1")
    out = []

    def row(metric, value, unit):
        r = dict(base)
        r.update(metric=metric, value=f"{value:.6g}", unit=unit)
        out.append(r)

    row("sim_step_seconds", sim["step_seconds"], "s")
    row("step_time_error", sim["step_seconds"] / cfg["step_seconds"] - 1, "1")
    row("sim_peak_gpu_bytes", sim["peak_gpu_bytes"], "B")
    if cfg["peak_allocated_bytes"] and not cfg.get("peak_after_flush"):
        row("peak_memory_error", sim["peak_gpu_bytes"] / cfg["peak_allocated_bytes"] - 1, "1")
    return out


def figure(results, path, profile):
    fig, ax = plt.subplots(figsize=(5.5, 5))
    measured = [r["measured"] for r in results]
    simulated = [r["simulated"] for r in results]
    lo, hi = min(measured + simulated) * 0.8, max(measured + simulated) * 1.25
    ax.plot([lo, hi], [lo, hi], color="black", lw=1, label="simulated = measured")
    ax.fill_between([lo, hi], [lo * 0.95, hi * 0.95], [lo * 1.05, hi * 1.05], color="0.85", label="±5 %")
    for model in dict.fromkeys(r["model"] for r in results):
        pts = [r for r in results if r["model"] == model]
        ax.scatter([p["measured"] for p in pts], [p["simulated"] for p in pts], s=22, label=model, zorder=3)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_xlabel("measured step time (s)")
    ax.set_ylabel(f"simulated step time (s), profile {profile}")
    ax.set_title("zo2 simulate vs the CUDA engine")
    ax.legend(fontsize=8)
    fig.tight_layout()
    pathlib.Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=150)
    plt.close(fig)


def write_rows(path, rows, append):
    path = pathlib.Path(path)
    new = pd.DataFrame(rows, columns=COLUMNS)
    if append and path.exists():
        old = pd.read_csv(path, dtype=str, keep_default_na=False)
        if list(old.columns) != COLUMNS:
            fail(f"{path}: header {','.join(old.columns)} is not the results header ({','.join(COLUMNS)})")
        new = pd.concat([old, new], ignore_index=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    new.to_csv(tmp, index=False)
    os.replace(tmp, path)  # atomic: a reader never sees half a file


def summary(values):
    s = pd.Series(values, dtype=float).abs()
    return (s.median(), s.max()) if len(s) else (float("nan"), float("nan"))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("measured", nargs="+", help="results CSV(s) with executor=cuda rows")
    ap.add_argument("--profile", required=True, help="hardware profile: a name under simulator/profiles or a JSON file")
    ap.add_argument("--zo2", default=str(REPO / "build" / "zo2"), help="the zo2 binary (default: build/zo2)")
    ap.add_argument("--out", required=True, help="results CSV to write (executor=sim rows)")
    ap.add_argument("--append", action="store_true", help="append to --out instead of replacing it")
    ap.add_argument("--figure", help="PNG of simulated vs measured step time")
    ap.add_argument("--stat", choices=["value", "median"], default="value",
                    help="which measured column to compare (value: the mean over the last half of the steps)")
    ap.add_argument("--check", action="store_true",
                    help="exit 1 unless median |step error| <= 5 %%, max <= 10 %% and max |memory error| <= 2 %% "
                         "(issue 4's targets)")
    args = ap.parse_args(argv)
    if not pathlib.Path(args.zo2).exists():
        fail(f"--zo2: {args.zo2} does not exist (build first: ninja -C build zo2)")

    configs = read_measured(args.measured, args.stat)
    for cfg in configs:
        cfg["peak_after_flush"] = bool(cfg["peak_allocated_bytes"]) and peak_includes_flush(
            cfg.get("peak_commit", ""), cfg["offload"])
        if cfg["peak_after_flush"]:
            print(f"validate_simulator: note: {describe(cfg)}: peak_allocated_bytes of commit {cfg['peak_commit']} was "
                  f"read after the final flush (before {PEAK_BEFORE_FLUSH_SINCE}); memory not compared",
                  file=sys.stderr)
    commit = current_commit(REPO)
    date = datetime.datetime.now(datetime.timezone.utc).date().isoformat()
    rows, results = [], []
    for cfg in configs:
        sim = simulate(args.zo2, args.profile, cfg)
        rows += rows_for(cfg, sim, commit, date)
        results.append(dict(model=cfg["model"], config=describe(cfg), measured=cfg["step_seconds"],
                            simulated=sim["step_seconds"], step_error=sim["step_seconds"] / cfg["step_seconds"] - 1,
                            measured_peak=cfg["peak_allocated_bytes"], simulated_peak=sim["peak_gpu_bytes"],
                            after_flush=cfg["peak_after_flush"],
                            memory_error=(sim["peak_gpu_bytes"] / cfg["peak_allocated_bytes"] - 1
                                          if cfg["peak_allocated_bytes"] and not cfg["peak_after_flush"] else None)))
    cards = sorted({c["card"] for c in configs})
    write_rows(args.out, rows, args.append)

    print(f"profile {args.profile}; measured on {', '.join(cards)}; {len(results)} configuration(s)")
    print(f"{'configuration':<100} {'measured s':>11} {'sim s':>10} {'step err':>9} {'meas GiB':>9} {'sim GiB':>8} "
          f"{'mem err':>8}")
    for r in results:
        mem = (f"{r['memory_error'] * 100:+7.2f}%" if r["memory_error"] is not None
               else "   flush" if r["after_flush"] else "       -")
        meas_gib = f"{r['measured_peak'] / 2**30:9.3f}" if r["measured_peak"] else "        -"
        print(f"{r['config']:<100} {r['measured']:11.4f} {r['simulated']:10.4f} {r['step_error'] * 100:+8.2f}% "
              f"{meas_gib} {r['simulated_peak'] / 2**30:8.3f} {mem}")
    step_med, step_max = summary([r["step_error"] for r in results])
    mem_med, mem_max = summary([r["memory_error"] for r in results if r["memory_error"] is not None])
    print(f"step time   |error|: median {step_med * 100:.2f} %, max {step_max * 100:.2f} %  (targets 5 %, 10 %)")
    flushed = sum(r["after_flush"] for r in results)
    print(f"peak memory |error|: median {mem_med * 100:.2f} %, max {mem_max * 100:.2f} %  (target 2 %)"
          + (f"; {flushed} peak(s) read after the final flush not compared" if flushed else ""))
    print(f"wrote {args.out}")
    if args.figure:
        figure(results, args.figure, args.profile)
        print(f"wrote {args.figure}")
    if args.check and not (step_med <= 0.05 and step_max <= 0.10 and (pd.isna(mem_max) or mem_max <= 0.02)):
        print("validate_simulator: errors above issue 4's targets", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
