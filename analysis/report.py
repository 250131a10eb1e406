#!/usr/bin/env python3
"""Results rows (experiments/results/*.csv) -> docs/RESULTS.md: the newest row of every card and configuration, every
table generated from rows, nothing typed (the history stays in the CSV files).

The peer's numbers are rows too (experiments/results/peer_zo2.csv, executor peer-zo2, each with its source).
"""
import argparse
import glob
import json
import os

import pandas as pd

import rows_latest
import results_rows
from results_rows import with_defaults

# What each validation file compares. validation_h200.csv uses simulator/profiles/h200-measured.json as committed
# (calibrated at 20d9594); the others were written with the profile of their time, kept under its commit's name
# (h200-8fe20b6.json, h200-e840671.json, h100-e39e8ae.json) or replaced: the record of that validation, not re-run. An empty memory
# error: the peak was read after the final flush.
VALIDATION_NOTES = {
    "validation_h200.csv": "The current profile (calibrated at 20d9594: OPT and LLaMA block shapes, the folded "
                           "restore) against the rows of e433451 (offloaded, ablation, budget), 1ab829e (resident, "
                           "--fold-update on and off) and 20d9594 (LLaMA). LLaMA's layer workspace was fitted to two "
                           "of these peaks (core/plan_memory.h).",
    "validation_h200_8fe20b6.csv": "The profile calibrated at 8fe20b6 (h200-8fe20b6.json) against the rows of "
                                   "8fe20b6, 7d28522 and e433451: the same code as the profile's, or newer only in the "
                                   "ZO kernels' register budget and 16-byte accesses.",
    "validation_h100.csv": "The H100 profile recalibrated at 7326d26 (OPT and LLaMA block shapes, the folded restore) "
                           "against e39e8ae's rows (the first H100 runs) and 7326d26's LLaMA rows. The 1.3B resident "
                           "row with the fold off had two slow steps (0.048 and 0.050 s against 0.030) in the last "
                           "half that its mean includes.",
    "validation_h100_e39e8ae.csv": "e39e8ae's rows against the profile calibrated in the same session "
                                   "(h100-e39e8ae.json).",
    "validation_h200_e840671.csv": "e840671's resident rows (--fold-update on and off) against the profile calibrated "
                                   "in the same call (h200-e840671.json). That machine's link measured 88 GB/s both "
                                   "ways against 101 for h200-8fe20b6.json: another H200 host, so its profile is kept "
                                   "apart and the offloaded rows stay validated against their own.",
    "validation_h200_llama.csv": "The first LLaMA rows (ad600fd) against h200-8fe20b6.json, which has no LLaMA block "
                                 "timings: resident blocks fall back to the roofline with OPT's forward efficiency and "
                                 "miss the LLaMA block's elementwise work (RMSNorm in fp32, rotary, SwiGLU), 20-24 % "
                                 "short; offloaded steps are link-bound and land within 1 %. LLaMA's layer workspace was "
                                 "then an unfitted estimate (7 [B,T,H] buffers; now 4). validation_h200.csv has them "
                                 "against a profile with LLaMA block timings.",
    "validation_h200_ab265e1.csv": "ab265e1's rows against the profile calibrated beside them (that commit's profile).",
    "validation_h200_other_machine.csv": "ab265e1's rows with 5c64509's where both exist (another H200 machine, "
                                         "never calibrated: its link ran about 6 % slower), that commit's profile.",
    "validation_h200_5ee6246.csv": "The rows of 3ea839a and 5ee6246 against ab265e1's profile: newer ZO kernels than "
                                   "the profile's, and host-update rows (wire below master) priced at a host rate "
                                   "measured before the host loop ran on more than one thread. Memory is the "
                                   "comparison that holds there.",
}
# The policy columns but dtype (keyed beside the workload), from the knob table (analysis/knobs.json).
POLICY = [c for c in results_rows.POLICY if c != "dtype"]
KEY = ["card", "executor", "model", "batch", "seq", "dtype"] + POLICY


def load(results_dir):
    return rows_latest.load(results_dir)


def latest(rows, **match):
    """One row per card and configuration, from its newest commit (rows_latest's order), metrics as columns."""
    sel = rows
    for k, v in match.items():
        sel = sel[sel[k] == v]
    sel = newest_commit(sel, KEY)
    wide = sel.pivot_table(index=KEY + ["commit"], columns="metric", values="value", aggfunc="last").reset_index()
    return wide.sort_values(["card", "model", "offload", "prefetch", "slots", "overlap", "writeback", "commit"])


def newest_commit(sel, key):
    """The rows of each key's newest commit (all of that commit's metrics, none of an older one's)."""
    sel = rows_latest.newest_first_order(sel)
    return sel[sel["commit"] == sel.groupby(key, sort=False)["commit"].transform("last")]


def peer_numbers(rows):
    """card -> model -> (zo tok/s, zo2 tok/s, zo2 NVML used MB) from the peer's rows of one source per card (the one
    with the most rows: one machine, one call), fp16."""
    out = {}
    peer = rows[(rows.executor == "peer-zo2") & (rows["dtype"] == "fp16")]
    for card in sorted(set(peer.card) - {""}):
        src = rows_latest.by_source(peer[peer.card == card])[0]
        src = rows_latest.newest(src, ["model", "offload"])

        def get(model, offload, metric):
            v = src[(src.model == model) & (src.offload == offload) & (src.metric == metric)]["value"]
            return None if v.empty else int(v.iloc[-1])
        out[card] = {m: (get(m, "none", "tokens_per_second"), get(m, "all", "tokens_per_second"),
                         get(m, "all", "nvml_used_MB")) for m in sorted(set(src.model))}
    return out


def drop_if_off(df, *columns):
    """Tables show a knob added later (prefetch_next, fold_update, ...: results_rows.DEFAULTS) only once some row
    differs from what rows before it ran."""
    for column in columns:
        if column in df.columns and (df[column] == results_rows.DEFAULTS.get(column, "off")).all():
            df = df.drop(columns=[column])
    return df


def md(df):
    cols = list(df.columns)
    out = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for _, r in df.iterrows():
        out.append("| " + " | ".join(str(r[c]) for c in cols) + " |")
    return "\n".join(out)


def link_rates(profile_path):
    p = json.load(open(profile_path))
    one_way = max(v for _, v in p["h2d_pinned_bytes_per_second"]["points"])
    return one_way, p["concurrent_bytes_per_second"]["value"], p["device_copy_bytes_per_second"]["value"]


def measured_profiles(directory):
    """card -> (profile file, link rates) for the profiles `zo2 calibrate` measured (simulator/profiles/*-measured.json):
    a row's link bound uses the rates measured on its own kind of card."""
    out = {}
    for path in sorted(glob.glob(os.path.join(directory, "*-measured.json"))):
        out[json.load(open(path))["card"]] = (path, link_rates(path))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--results", default="experiments/results")
    ap.add_argument("--profiles", default="simulator/profiles", help="where the measured profiles (link rates) are")
    ap.add_argument("--out", default="docs/RESULTS.md")
    a = ap.parse_args()
    rows = load(a.results)
    cuda = rows[rows.executor == "cuda"]
    peers = peer_numbers(rows)
    profiles = measured_profiles(a.profiles)
    parts = ["# Results", "",
             "Generated by `analysis/report.py` from the rows under `experiments/results/` (docs/METRICS.md defines "
             "each metric), one row per card and configuration: the newest (latest date, then the commit nearest "
             "HEAD); the history is in the CSV files. Every row names its commit, card and driver; numbers compare "
             "only within one card kind. Figures: docs/FIGURES.md. "
             "The peer's numbers are experiments/results/peer_zo2.csv's (../shared/TARGETS.md's tables, each row "
             "with its source), measured on the same kinds of machine; the peer's "
             "model is its own GPT with OPT block shapes (GELU, vocabulary 50304, untied head): the blocks move the "
             "same bytes, the resident group differs.", ""]

    # Resident.
    res = latest(cuda, offload="none", dtype="fp16")
    t = []
    for _, r in res.iterrows():
        peer = peers.get(r.card, {}).get(r.model)
        t.append({"card": r.card, "model": r.model, "commit": r.commit, "fold update": r.fold_update,
                  "tok/s": f"{r.tokens_per_second:.0f}",
                  "step s": f"{r.step_seconds:.4f}", "peer zo tok/s": peer[0] if peer else "",
                  "ratio": f"{r.tokens_per_second / peer[0]:.2f}" if peer and peer[0] else "",
                  "peak allocated GB": f"{r.peak_allocated_bytes / 1e9:.2f}"})
    parts += ["## Whole model resident (fp16, batch 1, seq 2048)", "", md(drop_if_off(pd.DataFrame(t), "fold update")),
              ""]

    # Offloaded (every compute format: the wire ablation changes it with the wire).
    off = latest(cuda)
    off = off[(off.offload != "none") & (off.offload != "") & (off.model.str.startswith(("opt-", "llama-")))]
    t = []
    for _, r in off.iterrows():
        k = int(r.writeback)
        all_off = r.offload == "all" and r.card in profiles
        one_way, concurrent, _ = profiles[r.card][1] if all_off else (0, 0, 0)
        up = r.link_bytes_per_step / (1 + 1 / k) if all_off else float("nan")
        bound = max(up / one_way, r.link_bytes_per_step / concurrent) if all_off else float("nan")
        peer = peers.get(r.card, {}).get(r.model.split(":")[0]) if all_off and ":" not in r.model else None
        t.append({"card": r.card, "model": r.model, "commit": r.commit, "dtype": r["dtype"], "wire": r.wire,
                  "master": r.master, "offload": r.offload,
                  "prefetch": r.prefetch, "slots": r.slots, "overlap": r.overlap, "writeback": k,
                  "prefetch next": r.prefetch_next, "fold update": r.fold_update, "tok/s": f"{r.tokens_per_second:.0f}", "step s": f"{r.step_seconds:.4f}",
                  "link GB/s": f"{r.link_GBps:.1f}",
                  "of link bound": f"{bound / r.step_seconds:.0%}" if all_off else "",
                  "peer zo2 tok/s": peer[1] if peer else "",
                  "ratio": f"{r.tokens_per_second / peer[1]:.2f}" if peer else "",
                  "peak alloc GB": f"{r.peak_allocated_bytes / 1e9:.2f}",
                  "device used GB": f"{r.device_used_bytes / 1e9:.2f}",
                  "peer NVML GB": f"{peer[2] / 1e3:.2f}" if peer else "",
                  "predicted GB": f"{r.predicted_gpu_bytes / 1e9:.2f}",
                  "prediction err": f"{r.predicted_gpu_bytes / r.peak_allocated_bytes - 1:+.1%}"})
    parts += ["## Blocks offloaded (batch 1, seq 2048)", "",
              "Link bound: max(bytes up / one-way rate, all bytes / concurrent rate) with the rates `zo2 calibrate` "
              "measured on the row's kind of card (" + "; ".join(
                  f"{card}: `{os.path.basename(path)}`, {rates[0] / 1e9:.1f} GB/s one way, {rates[1] / 1e9:.1f} GB/s "
                  "both directions at once" for card, (path, rates) in profiles.items()) + "). Device used = cudaMemGetInfo (CUDA context included), comparable to the "
              "peer's NVML used. Runs before commit 5c64509 read the allocator peak after the final flush (one more "
              "block buffer). A wire below the master: the host updates its master every step (CPU-bound; before 5ee6246 on "
              "one thread).", "", md(drop_if_off(pd.DataFrame(t), "prefetch next", "fold update")), ""]

    # Kernels.
    k = rows[rows.metric.str.startswith("zo_pass_")].copy()
    if len(k):
        k = newest_commit(k, ["card", "dtype"])
        piv = k.pivot_table(index=["card", "commit", "dtype"], columns="metric", values="value", aggfunc="last")
        piv = piv.reset_index()
        # A resident step's three passes together (docs/METRICS.md): 3 copies' time over the passes' time.
        if "zo_pass_fold_copy_fraction" in piv:
            piv["step_fold_copy_fraction"] = 3 / (2 / piv["zo_pass_perturb_copy_fraction"] + 1 / piv["zo_pass_fold_copy_fraction"])
        piv["step_pending_copy_fraction"] = 3 / (2 / piv["zo_pass_perturb_copy_fraction"]
                                                 + 1 / piv["zo_pass_update_perturb_copy_fraction"])
        keep = ["card", "commit", "dtype"] + [c for c in piv.columns if c.endswith("copy_fraction") or c.endswith("pass_GBps")]
        parts += ["## Fused ZO passes against the device copy (one OPT-6.7B block)", "",
                  "`step_*_copy_fraction`: a resident block's three passes of one step together, 3 / (sum of 1 / "
                  "fraction): with the fold (perturb, perturb, fold) and in ZO2's order (update+perturb, perturb, "
                  "perturb).", "",
                  md(piv[keep].round(3).astype(object).where(piv[keep].notna(), "")), ""]

    # A ZO pass beside a forward on a second stream.
    o = rows[rows.metric.str.startswith("overlap_")].copy()
    if len(o):
        o = newest_commit(o, ["card", "dtype"])
        o["pass"] = o.metric.str.extract(r"overlap_(.+)_(?:forward_ms|zo_ms|sequential_ms|concurrent_ms|hidden_fraction)$")[0]
        o["what"] = o.metric.str.extract(r"_(forward_ms|zo_ms|sequential_ms|concurrent_ms|hidden_fraction)$")[0]
        piv = o.pivot_table(index=["card", "commit", "dtype", "pass"], columns="what", values="value", aggfunc="last")
        parts += ["## A ZO pass beside a block's forward on a second stream (one OPT-6.7B block)", "",
                  "From `benchmarks/bench_engine_overlap`: hidden_fraction = (sequential - concurrent) / the shorter "
                  "op's time. Near 0: the two share the GPU's SMs rather than overlap.", "",
                  md(piv.reset_index().round(3)), ""]

    # Validation.
    # Validation: the current profile of each card (validation_<card>.csv) in full, earlier ones in one line each.
    earlier = []
    for name in sorted(glob.glob(os.path.join(a.results, "validation_*.csv"))):
        v = with_defaults(pd.read_csv(name, dtype=str, keep_default_na=False))
        v["value"] = pd.to_numeric(v["value"])
        st = v[v.metric == "step_time_error"]["value"].abs()
        pm = v[v.metric == "peak_memory_error"]["value"].abs()
        summary = (f"{len(st)} configurations; step time |error| median {st.median():.1%}, max {st.max():.1%}; "
                   f"peak memory |error| median {pm.median():.1%}, max {pm.max():.1%}.")
        if os.path.basename(name).count("_") > 1:
            earlier.append(f"- `{os.path.basename(name)}`: {summary} "
                           + VALIDATION_NOTES.get(os.path.basename(name), ""))
            continue
        parts += [f"## Simulator validation: `{os.path.basename(name)}`", "", summary, ""]
        # Formats side by side, then the other knobs (a knob added to the table joins at the end; the budget only
        # refuses plans).
        shown = ["model", "dtype", "wire", "master"]
        config = shown + [c for c in results_rows.POLICY if c not in shown and c != "gpu_mem_budget"]
        step = v[v.metric == "step_time_error"].set_index(config)["value"].map(lambda x: f"{x:+.1%}")
        mem = v[v.metric == "peak_memory_error"].set_index(config)["value"].map(lambda x: f"{x:+.2%}")
        table = pd.DataFrame({"step err": step}).join(pd.DataFrame({"memory err": mem}), how="left").fillna("")
        parts += [VALIDATION_NOTES.get(os.path.basename(name), ""), "",
                  md(drop_if_off(table.reset_index(), *results_rows.DEFAULTS)), ""]

    if earlier:
        parts += ["## Earlier simulator validations (profiles of their time)", ""] + earlier + [""]

    # Low-bit wire drift.
    d = rows[rows.metric.str.contains("drift")]
    if len(d):
        piv = d.pivot_table(index=["executor", "commit", "wire"], columns="metric", values="value", aggfunc="last")
        parts += ["## Low-bit wire against fp32 (fp32 master, per step)", "",
                  "From `experiments/wire_drift.py`: |loss − loss_fp32| per step and the offloaded blocks' distance "
                  "to the fp32 run in units of how far the fp32 run moved them.", "",
                  md(piv.reset_index().round(6)), ""]

    # OPT-175B prediction.
    p = rows[(rows.executor == "sim") & (rows.model == "opt-175b") & (rows.offload != "")]
    if len(p):
        p = newest_commit(p, ["card"] + POLICY)
        wide = p.pivot_table(index=["card", "commit"] + POLICY, columns="metric", values="value", aggfunc="last")
        wide = wide.reset_index()
        wide["peak GPU GB"] = (wide["peak_gpu_bytes"] / 1e9).round(2) if "peak_gpu_bytes" in wide else ""
        cols = [c for c in ["card", "commit", "prefetch", "writeback", "prefetch_next", "fold_update", "step_seconds",
                            "tokens_per_second", "peak GPU GB"] if c in wide.columns]
        parts += ["## OPT-175B (96 layers) predicted by the simulator", "",
                  "The peer's paper reports 18.04 GB of GPU memory (NVML used, CUDA context included) for OPT-175B; "
                  "the prediction is the caching allocator's peak (the CUDA context, about 1 GB, comes on top).",
                  "", md(drop_if_off(wide[cols].round(3), "fold_update")), ""]
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    tmp = a.out + ".tmp"
    with open(tmp, "w") as f:
        f.write("\n".join(parts) + "\n")
    os.replace(tmp, a.out)
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
