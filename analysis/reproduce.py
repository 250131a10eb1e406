#!/usr/bin/env python3
"""Reproduces the paper's figures from this project's rows and simulator: figures/*.png|svg|json, docs/FIGURES.md
and docs/RESULTS.md, on the CPU in a few minutes.

  python3 analysis/reproduce.py                       # from the committed rows and profiles
  python3 analysis/reproduce.py --measure ablation    # on a GPU machine: run that spec first (rows appended to
                                                      # experiments/results/engine_<card>_<commit>.csv), then redraw

With --measure the named specs (experiments/specs/engine/*.json; `all` for every one) run through analysis/run_specs.py
with zo2 train on the GPU; the figures then read the new rows with the rest (the newest row of each configuration).
"""
import argparse
import os
import pathlib
import subprocess
import sys
import tempfile
import time

import figure_plots
import figure_series
import figure_task
import rows_latest
from results_rows import current_commit
from run_specs import all_specs
from sim_calls import Zo2

REPO = pathlib.Path(__file__).resolve().parents[1]
# (id, what it computes, how it is drawn, the two lines docs/FIGURES.md says about it).
FIGURES = [
    ("fig1_memory", lambda c: figure_series.memory(c.rows, c.zo2, c.profs), figure_plots.memory,
     "GPU memory against model size. With every block offloaded the peak grows with one block (the prefetch slots) "
     "and the embeddings, not with the depth, and stays under the peer's 18.04 GB at OPT-175B; MeZO with the whole "
     "model resident grows with the parameters and leaves the card (the H100 past 30B, the H200 past 66B).",
     "The peer's numbers are NVML used memory (CUDA context included); ours are the caching allocator's peak "
     "(measured and simulated alike) and, in cyan, the device's used memory measured beside it, the peer's kind."),
    ("fig2_throughput", lambda c: figure_series.throughput(c.rows, c.zo2, c.profs), figure_plots.throughput,
     "Throughput against model size. Offloaded, ours runs close to the link bound (dotted: the bytes a step moves at "
     "the card's measured PCIe rates) from 6.7B on, the peer's below it; copying a block back every fourth step "
     "(writeback 4) raises the bound.",
     "Resident MeZO is fastest where it fits; the simulated lines follow the measured points and carry the offloaded "
     "policies on to 66B and 175B."),
    ("fig3_timeline", lambda c: figure_series.timeline(c.zo2, c.profs, c.tmp), figure_plots.timeline,
     "One OPT-6.7B step on the h2d, compute and d2h queues, simulated for the peer-like policy and ours: the upload "
     "queue is busy end to end in both; ours copies back a quarter of the blocks (d2h mostly idle) and replays their "
     "pending updates on the GPU instead, and its step is shorter.",
     "Ops are named as the plan names them (`h2d/L05`, `fwd+/L05`, `zo=/L05`, ...), as are the NVTX ranges of the "
     "engine's Nsight Systems capture."),
    ("fig4_ablation", lambda c: figure_series.ablation(c.rows, c.zo2, c.profs), figure_plots.ablation,
     "The ablation at 6.7B, measured beside simulated, one knob at a time from the peer-like policy: one queue "
     "(overlap off) costs most, then prefetch 0 and an allocation per upload; writeback 4 gains, writeback 16 loses "
     "again to the replays (more in the simulator than measured), prefetch-next a little.",
     "A wire below an fp32 master makes the host update its master every step: CPU-bound, an order of magnitude "
     "slower. The bars are experiments/specs/engine/{ablation,wire,wirehost}.json's runs."),
    ("fig5_policy_map", lambda c: figure_series.policy_map(c.zo2), figure_plots.policy_map,
     "OPT-175B on the H200 profile, predicted: every offloaded policy of prefetch × writeback × wire (× prefetch-next) "
     "as tok/s against peak memory; the stars are the fastest policy the search finds under each budget.",
     lambda d: "Fastest: " + "; ".join(
         f"under {w['budget_GB']:.0f} GB {w['y']:.0f} tok/s in {w['x']:.1f} GB (offload {w['policy']['offload']}, "
         f"prefetch {w['policy']['prefetch']}, writeback {w['policy']['writeback']}, prefetch-next "
         f"{w['policy']['prefetch_next']})" for w in d["panels"][0]["series"][1]["points"])
     + ". An fp8 wire below the fp16 master is host-bound (the host updates its master)."),
    ("fig6_validation", lambda c: figure_series.validation(c.results, c.profs), figure_plots.validation,
     "The simulator against the engine, per card, on the committed validation rows (analysis/validate_simulator.py "
     "with the card's measured profile): step time above, peak memory below, the band is ±10 %.",
     "Each panel's title gives the median and largest error; docs/RESULTS.md's validation tables name every "
     "configuration and its error."),
    ("fig7_task", lambda c: figure_task.task_curves(c.results), figure_task.plot,
     lambda d: "SmolLM2-135M fine-tuned with MeZO on the SST-2-format set experiments/sentiment_set.py generates: the "
     "training loss on the answer token (left, a running mean over the faint per-step values) and dev / test accuracy "
     "by candidate scoring (right), the zero-shot point at step 0, for each grid point and the check pair.",
     lambda d: "The offloaded check run (every block offloaded, crosses and dashes) lies on the resident one: "
     f"{'identical, point for point' if d['offloaded_equals_resident'] else 'NOT identical'}. Rows: "
     f"experiments/results/{d['file']} ({', '.join(d['devices']) or 'device not recorded'}; "
     f"{', '.join(d['cards'])})."),
]


def text(line, data):
    return line(data) if callable(line) else line


class Context:
    def __init__(self, results, profiles_dir, zo2, tmp):
        self.results = results
        self.rows = rows_latest.load(results)
        self.profs = figure_series.profiles(profiles_dir)
        self.zo2 = zo2
        self.tmp = tmp


def card_tag():
    try:
        proc = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], capture_output=True,
                              text=True)
    except FileNotFoundError:
        proc = subprocess.CompletedProcess([], 1, "", "")
    if proc.returncode != 0 or not proc.stdout.strip():
        print("reproduce: error: --measure needs a GPU (nvidia-smi found none); without it, leave --measure out",
              file=sys.stderr)
        sys.exit(2)
    name = proc.stdout.splitlines()[0]
    for tag in ("h200", "h100", "a100"):
        if tag in name.lower():
            return tag
    return "gpu"


def measure(specs, zo2, results):
    names = all_specs() if specs == ["all"] else specs
    out = pathlib.Path(results) / f"engine_{card_tag()}_{current_commit(REPO)}.csv"
    cmd = [sys.executable, str(REPO / "analysis" / "run_specs.py"), *names, "--measure", "--zo2", zo2,
           "--results", str(out)]
    print("reproduce: measuring:", " ".join(cmd), flush=True)
    rc = subprocess.run(cmd).returncode
    if rc != 0:
        raise SystemExit(f"reproduce: a measured run failed (rc {rc}); rows written so far are in {out}")


def figures_page(made, page):
    lines = ["# Figures", "",
             "Written by `analysis/reproduce.py` (README command 1, `scripts/main.sh`) from the rows under "
             "`experiments/results/` and `zo2 simulate` / `zo2 sweep` on `simulator/profiles/*-measured.json`. Each "
             "figure's footer names its cards, profiles, the commits of its rows and calibrations, and their date; each "
             "legend entry says whether the series is measured, simulated, published (the peer's numbers, "
             "`experiments/results/peer_zo2.csv`, each row with its source) or a bound. The data behind each plot "
             "is `figures/<id>.json`; `tests/python/test_figures.py` recomputes it from the rows.", ""]
    for (fid, _, _, one, two), data in made:
        lines += [f"## {data['title']}", "", f"![{fid}](../figures/{fid}.png)", "", text(one, data), text(two, data),
                  "",
                  f"[SVG](../figures/{fid}.svg) · [data](../figures/{fid}.json) · cards: "
                  f"{', '.join(c for c in data['cards'] if c)} · commits: {', '.join(data['commits'])} · "
                  f"date: {data['date']}", ""]
        if fid == "fig3_timeline":
            n = data["nsys"]
            lines += [
                "**Missing: the measured timeline.** The committed capture (`experiments/results/nsys/"
                f"{', '.join(n['capture']) or 'none'}`) needs the `nsys` CLI to read, which this machine lacks, and "
                f"its committed exports ({', '.join(n['exports']) or 'none'}) are per-range sums, not per-op times. "
                "On the GPU machine `scripts/gpu_session.sh nsys` now also writes `nsys_nvtx_gpu_proj_trace.csv` "
                "(`nsys stats --report nvtx_gpu_proj_trace`: each NVTX range, named as the plan's ops, with its "
                "start and duration on the GPU); committed under `experiments/results/nsys/`, it is the row set a "
                "measured panel beneath each simulated one would read (not drawn yet).", ""]
    lines += ["## Not here yet", "",
              "- The measured step timeline (above).", ""]
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text("\n".join(lines))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--measure", nargs="+", metavar="SPEC", help="run these specs on the GPU first (or: all)")
    ap.add_argument("--zo2", default=os.environ.get("ZO2_BIN", str(REPO / os.environ.get("ZO2_BUILD_DIR", "build")
                                                                   / "zo2")))
    ap.add_argument("--results", default=str(REPO / "experiments" / "results"))
    ap.add_argument("--profiles", default=str(REPO / "simulator" / "profiles"))
    ap.add_argument("--figures", default=str(REPO / "figures"))
    ap.add_argument("--page", default=str(REPO / "docs" / "FIGURES.md"))
    ap.add_argument("--results-page", default=str(REPO / "docs" / "RESULTS.md"))
    ap.add_argument("--only", nargs="+", help="only these figure ids")
    a = ap.parse_args()
    start = time.time()
    zo2 = Zo2(a.zo2)
    if a.measure:
        measure(a.measure, a.zo2, a.results)
    subprocess.run([sys.executable, str(REPO / "analysis" / "report.py"), "--results", a.results, "--profiles",
                    a.profiles, "--out", a.results_page], check=True)
    made = []
    with tempfile.TemporaryDirectory() as tmp:
        ctx = Context(a.results, a.profiles, zo2, tmp)
        for fig in FIGURES:
            if a.only and fig[0] not in a.only:
                continue
            data = fig[1](ctx)
            files = fig[2](data, a.figures)
            made.append((fig, data))
            print(f"reproduce: {', '.join(os.path.relpath(f, REPO) for f in files)} ({time.time() - start:.0f} s)",
                  flush=True)
    if not a.only:
        figures_page(made, pathlib.Path(a.page))
        print(f"reproduce: wrote {os.path.relpath(a.page, REPO)} ({time.time() - start:.0f} s)")


if __name__ == "__main__":
    main()
