"""The data behind each figure of docs/FIGURES.md: series of points from the results rows (measured, the peer's
published) and from the simulator on the committed profiles (simulated), each point naming where it came from.

A figure's data is a dict {"id", "title", "cards", "commits", "date", "panels": [{"card", "series": [...]}], ...};
a series is {"name", "kind": measured|simulated|published|bound, "metric", "points": [{"model", "x", "y", ...}]};
a measured point names its row's commit and date, a simulated one its profile and the policy the simulator ran.
analysis/figure_plots.py draws them; tests/python/test_figures.py recomputes them from the rows.
"""
import json
import os
import pathlib

import rows_latest
from run_specs import load as load_spec

REPO = pathlib.Path(__file__).resolve().parents[1]
OPT = ["opt-1.3b", "opt-2.7b", "opt-6.7b", "opt-13b", "opt-30b", "opt-66b", "opt-175b"]
LLAMA = ["llama-2-7b", "llama-3-8b", "llama-2-13b", "llama-2-70b"]
FP16 = {"dtype": "fp16", "wire": "fp16", "master": "fp16", "slots": "reuse", "overlap": "on"}
# The policies the figures follow, as results-row columns.
PEER_LIKE = {**FP16, "offload": "all", "prefetch": "1", "writeback": "1", "prefetch_next": "off"}
BEST = {**FP16, "offload": "all", "prefetch": "2", "writeback": "4", "prefetch_next": "on"}
# Memory: the slots of BEST with prefetch-next on or off (it changes no memory term; the newest row of either), so
# that rows measured after the allocator peak moved before the final flush exist on both cards.
MEMORY = {**FP16, "offload": "all", "prefetch": "2", "writeback": "4"}
RESIDENT = {"dtype": "fp16", "offload": "none", "fold_update": "on"}
PEER = "peer-zo2"
# Ablation labels: the fields a run sets beyond the spec's common ones.
ABLATION_SPECS = ["ablation", "wire", "wirehost"]
MATCH = ["dtype", "offload", "prefetch", "slots", "overlap", "wire", "master", "writeback", "prefetch_next"]


def profiles(directory):
    """card -> profile JSON (with "file") for the profiles `zo2 calibrate` measured, H200 first."""
    out = {}
    for path in sorted(pathlib.Path(directory).glob("*-measured.json"), key=lambda p: (not p.name.startswith("h200"),
                                                                                     p.name)):
        p = json.loads(path.read_text())
        p["file"] = path.name
        p["profile"] = path.stem
        p["calibrated_at"] = p["source"].rsplit("zo2 commit ", 1)[-1] if "zo2 commit " in p["source"] else ""
        out[p["card"]] = p
    return out


def select(rows, card, executor, model, policy, metric):
    sel = rows[(rows.card == card) & (rows.executor == executor) & (rows.model == model) & (rows.metric == metric)]
    for k, v in policy.items():
        sel = sel[sel[k] == v]
    return sel


def measured_point(rows, card, model, policy, metric, scale=1.0, executor="cuda"):
    sel = select(rows, card, executor, model, policy, metric)
    if sel.empty:
        return None
    r = rows_latest.newest_first_order(sel).iloc[-1]
    return {"model": model, "y": float(r.value) * scale, "commit": r.commit, "date": r.date, "file": r.file,
            "policy": dict(policy), "metric": metric, "scale": scale}


def measured_series(rows, zo2, card, name, models, policy, metric, scale, executor="cuda"):
    pts = []
    for m in models:
        p = measured_point(rows, card, m, policy, metric, scale, executor)
        if p:
            p["x"] = zo2.parameters(m) / 1e9
            pts.append(p)
    # The peer's rows measured on a card are measurements (TARGETS.md's runs); its README's have no card.
    return {"name": name, "kind": "measured" if card else "published", "metric": metric, "points": pts}


def peer_series(rows, zo2, card, name, policy, metric, scale):
    """The peer's rows on this card, one series per source (TARGETS.md's machine table, then its side-by-side
    call on another host): the first keeps the name, the others say which call."""
    out = []
    for i, src in enumerate(rows_latest.by_source(rows[(rows.executor == PEER) & (rows.card == card)])):
        s = measured_series(src, zo2, card, name, OPT, policy, metric, scale, PEER)
        if s["points"]:
            if out:
                s["name"] = f"{name}, another call ({src['date'].iloc[0]})"
            s["source"] = src["source"].iloc[0]
            out.append(s)
    return out


def simulated_series(zo2, prof, name, models, policy, metric, scale, only_fitting=False):
    pts = []
    run = {k: v for k, v in policy.items()}
    for m in models:
        s = zo2.simulate(m, prof["profile"], run)
        if only_fitting and not s["fits_gpu_memory"]:
            continue
        pts.append({"model": m, "x": zo2.parameters(m) / 1e9, "y": s[metric] * scale, "profile": prof["profile"],
                    "policy": run, "metric": metric, "scale": scale, "fits_gpu_memory": bool(s["fits_gpu_memory"])})
    return {"name": name, "kind": "simulated", "metric": metric, "points": pts}


def link_bound_series(zo2, prof, name, models, policy):
    """tok/s the link allows: 2048 tokens / max(bytes up / one-way rate, all bytes / both-ways rate), the bytes the
    simulator's plan moves per step, the rates the card's profile measured (as docs/RESULTS.md's link bound)."""
    one_way = max(v for _, v in prof["h2d_pinned_bytes_per_second"]["points"])
    both = prof["concurrent_bytes_per_second"]["value"]
    pts = []
    for m in models:
        s = zo2.simulate(m, prof["profile"], policy)
        seconds = max(s["h2d_bytes_per_step"] / one_way, (s["h2d_bytes_per_step"] + s["d2h_bytes_per_step"]) / both)
        pts.append({"model": m, "x": zo2.parameters(m) / 1e9, "y": 2048 / seconds, "profile": prof["profile"],
                    "policy": dict(policy), "one_way_bytes_per_second": one_way, "both_bytes_per_second": both})
    return {"name": name, "kind": "bound", "metric": "tokens_per_second", "points": pts}


def meta(data, rows_used, profs):
    """cards, commits and date of a figure: its measured rows' and its profiles' (calibration commit and date)."""
    commits, dates = set(), set()
    for panel in data["panels"]:
        for s in panel["series"]:
            for p in s["points"]:
                if "commit" in p:
                    commits.add(p["commit"])
                    if p["date"]:
                        dates.add(p["date"])
    for prof in profs:
        if prof["calibrated_at"]:
            commits.add(prof["calibrated_at"])
        dates.add(prof["date"])
    data["cards"] = list(dict.fromkeys(p["card"] for p in data["panels"]))
    data["commits"] = sorted(commits, key=rows_latest.commit_rank)
    data["date"] = max(dates) if dates else ""
    data["profiles"] = [p["file"] for p in profs]
    return data


def memory(rows, zo2, profs):
    panels = []
    for card, prof in profs.items():
        gb = 1e-9
        series = [
            measured_series(rows, zo2, card, "ours, offloaded, measured (allocator peak)", OPT, MEMORY,
                            "peak_allocated_bytes", gb),
            measured_series(rows, zo2, card, "ours, offloaded, measured (device used, context incl.)", OPT, MEMORY,
                            "device_used_bytes", gb),
            measured_series(rows, zo2, card, "ours LLaMA, offloaded, measured (allocator peak)", LLAMA, MEMORY,
                            "peak_allocated_bytes", gb),
            simulated_series(zo2, prof, "ours, offloaded, simulated (allocator peak)", OPT, MEMORY, "peak_gpu_bytes", gb),
            simulated_series(zo2, prof, "ours LLaMA, offloaded, simulated", LLAMA, MEMORY, "peak_gpu_bytes", gb),
            measured_series(rows, zo2, card, "MeZO resident, measured (allocator peak)", OPT, RESIDENT,
                            "peak_allocated_bytes", gb),
            simulated_series(zo2, prof, "MeZO resident, simulated (allocator peak)", OPT,
                             {"offload": "none", "dtype": "fp16"}, "peak_gpu_bytes", gb),
            measured_series(rows, zo2, card, "MeZO LLaMA resident, measured (allocator peak)", LLAMA, RESIDENT,
                            "peak_allocated_bytes", gb),
            simulated_series(zo2, prof, "MeZO LLaMA resident, simulated (allocator peak)", LLAMA,
                             {"offload": "none", "dtype": "fp16"}, "peak_gpu_bytes", gb),
            *peer_series(rows, zo2, card, "peer ZO2, measured (NVML used)", {"dtype": "fp16", "offload": "all"},
                         "nvml_used_MB", 1e-3),
            measured_series(rows, zo2, "", "peer ZO2, its README (NVML used)", OPT, {"dtype": "fp16", "offload": "all"},
                            "nvml_used_GB", 1.0, PEER),
        ]
        panels.append({"card": card, "capacity_GB": prof["gpu_memory_bytes"]["value"] * 1e-9, "series": series})
    return meta({"id": "fig1_memory", "title": "GPU memory against model size (fp16, batch 1, seq 2048)",
                 "ylabel": "peak GPU memory (GB)", "panels": panels}, rows, list(profs.values()))


def throughput(rows, zo2, profs):
    panels = []
    for card, prof in profs.items():
        series = [
            measured_series(rows, zo2, card, "ours, prefetch 2, writeback 4, prefetch-next, measured", OPT, BEST,
                            "tokens_per_second", 1.0),
            simulated_series(zo2, prof, "ours, prefetch 2, writeback 4, prefetch-next, simulated", OPT, BEST,
                             "tokens_per_second", 1.0),
            measured_series(rows, zo2, card, "ours, peer-like (prefetch 1, writeback 1), measured", OPT, PEER_LIKE,
                            "tokens_per_second", 1.0),
            simulated_series(zo2, prof, "ours, peer-like, simulated", OPT, PEER_LIKE, "tokens_per_second", 1.0),
            measured_series(rows, zo2, card, "MeZO resident, measured", OPT, RESIDENT, "tokens_per_second", 1.0),
            simulated_series(zo2, prof, "MeZO resident, simulated (where it fits)", OPT,
                             {"offload": "none", "dtype": "fp16"}, "tokens_per_second", 1.0, only_fitting=True),
            measured_series(rows, zo2, card, "ours LLaMA, prefetch 2, writeback 4, prefetch-next, measured", LLAMA,
                            BEST, "tokens_per_second", 1.0),
            simulated_series(zo2, prof, "ours LLaMA, prefetch 2, writeback 4, prefetch-next, simulated", LLAMA, BEST,
                             "tokens_per_second", 1.0),
            measured_series(rows, zo2, card, "MeZO LLaMA resident, measured", LLAMA, RESIDENT, "tokens_per_second",
                            1.0),
            *peer_series(rows, zo2, card, "peer ZO2 (offloaded), measured", {"dtype": "fp16", "offload": "all"},
                         "tokens_per_second", 1.0),
            *peer_series(rows, zo2, card, "peer MeZO resident, measured", {"dtype": "fp16", "offload": "none"},
                         "tokens_per_second", 1.0),
            link_bound_series(zo2, prof, "link bound, writeback 4", OPT, BEST),
            link_bound_series(zo2, prof, "link bound, writeback 1 (every block back)", OPT, PEER_LIKE),
        ]
        panels.append({"card": card, "series": series})
    return meta({"id": "fig2_throughput", "title": "Throughput against model size (fp16, batch 1, seq 2048)",
                 "ylabel": "tokens per second", "panels": panels}, rows, list(profs.values()))


def timeline(zo2, profs, tmp):
    """One step of OPT-6.7B on each policy's simulated queues (the card of the first profile)."""
    prof = next(iter(profs.values()))
    panels = []
    for label, policy in [("peer-like: prefetch 1, writeback 1", PEER_LIKE),
                          ("ours: prefetch 2, writeback 4, prefetch-next", BEST)]:
        trace = pathlib.Path(tmp) / f"trace_{policy['prefetch']}_{policy['writeback']}.json"
        s = zo2.simulate("opt-6.7b", prof["profile"], policy, trace=trace)
        events = json.loads(trace.read_text())["traceEvents"]
        names = {e["tid"]: e["args"]["name"] for e in events if e.get("name") == "thread_name"}
        ops = [e for e in events if e.get("ph") == "X"]
        last = max(e["args"].get("step", 0) for e in ops)
        step = [e for e in ops if e["args"].get("step", 0) == last]
        t0 = min(e["ts"] for e in step)
        panels.append({"card": prof["card"], "label": label, "policy": dict(policy), "profile": prof["profile"],
                       "step": last, "step_seconds_simulated": s["cycle_step_seconds"][-1] if s.get(
                           "cycle_step_seconds") else s["step_seconds"],
                       "ops": [{"queue": names[e["tid"]], "name": e["name"], "kind": e.get("cat", ""),
                                "start_ms": (e["ts"] - t0) / 1e3, "ms": e["dur"] / 1e3} for e in step],
                       "series": []})
    data = {"id": "fig3_timeline", "title": "One OPT-6.7B step on the three queues, simulated (fp16, seq 2048)",
            "panels": panels, "nsys": nsys_status()}
    return meta(data, None, [prof])


def nsys_status():
    """What of the committed Nsight Systems capture a figure can read: only a per-op export draws a timeline."""
    d = REPO / "experiments" / "results" / "nsys"
    return {"capture": sorted(p.name for p in d.glob("*.nsys-rep")),
            "exports": sorted(p.name for p in d.glob("*.csv")),
            "trace_export": sorted(p.name for p in d.glob("*nvtx_gpu_proj_trace*.csv"))}


def ablation(rows, zo2, profs):
    panels = []
    for card, prof in profs.items():
        runs = []
        for spec in ABLATION_SPECS:
            _, spec_runs = load_spec(spec)
            for run in spec_runs:
                policy = {k: v for k, v in run.items() if k not in ("steps", "model")}
                sim = zo2.simulate(run["model"], prof["profile"], policy)
                resolved = {k: str(sim["policy"][k]) for k in MATCH}
                label = describe_run(spec, run)
                m = measured_point(rows, card, run["model"], resolved, "tokens_per_second")
                runs.append({"spec": spec, "label": label, "model": run["model"], "policy": resolved,
                             "simulated": sim["tokens_per_second"], "measured": m["y"] if m else None,
                             "commit": m["commit"] if m else None, "date": m["date"] if m else None,
                             "profile": prof["profile"]})
        panels.append({"card": card, "runs": runs, "series": [
            {"name": "measured", "kind": "measured", "metric": "tokens_per_second",
             "points": [{"model": r["model"], "x": i, "y": r["measured"], "commit": r["commit"], "date": r["date"]}
                        for i, r in enumerate(runs) if r["measured"] is not None]},
            {"name": "simulated", "kind": "simulated", "metric": "tokens_per_second",
             "points": [{"model": r["model"], "x": i, "y": r["simulated"]} for i, r in enumerate(runs)]}]})
    return meta({"id": "fig4_ablation", "title": "OPT-6.7B, every block offloaded: one knob at a time",
                 "panels": panels}, rows, list(profs.values()))


def describe_run(spec, run):
    skip = {"steps", "model", "offload"}
    parts = [f"{k.replace('_', '-')} {v}" for k, v in run.items() if k not in skip and not (k == "dtype" and v == "fp16")]
    return ", ".join(parts)


def policy_map(zo2, spec=REPO / "experiments" / "specs" / "policy_map_175b.json"):
    rows = zo2.sweep(spec)
    by = {}
    for r in rows:
        key = tuple(r[k] for k in ["card", "model"] + MATCH + ["gpu_mem_budget"])
        by.setdefault(key, {"policy": {k: r[k] for k in MATCH + ["gpu_mem_budget"]}, "card": r["card"],
                            "commit": r["commit"]})[r["metric"]] = float(r["value"])
    grid = [v for v in by.values() if v["policy"]["gpu_mem_budget"] == "0"]
    best = [v for v in by.values() if v["policy"]["gpu_mem_budget"] != "0"]
    card = rows[0]["card"]
    prof = json.loads(pathlib.Path(REPO / "simulator" / "profiles" / (json.loads(spec.read_text())["profiles"][0]
                                                                       + ".json")).read_text())
    pts = [{"policy": g["policy"], "x": g["peak_gpu_bytes"] * 1e-9, "y": g["tokens_per_second"], "model": "opt-175b"}
           for g in grid]
    winners = [{"budget_GB": int(b["policy"]["gpu_mem_budget"]) / 1e9, "policy": b["policy"],
                "x": b["peak_gpu_bytes"] * 1e-9, "y": b["tokens_per_second"], "model": "opt-175b"}
               for b in sorted(best, key=lambda b: int(b["policy"]["gpu_mem_budget"]))]
    data = {"id": "fig5_policy_map", "title": "OPT-175B policy map, simulated (fp16, batch 1, seq 2048)",
            "spec": os.path.relpath(spec, REPO), "panels": [{"card": card, "series": [
                {"name": "every block offloaded (grid)", "kind": "simulated", "metric": "tokens_per_second",
                 "points": pts},
                {"name": "fastest under the budget (search, resident blocks allowed)", "kind": "simulated",
                 "metric": "tokens_per_second", "points": winners}]}]}
    prof.update(file=json.loads(spec.read_text())["profiles"][0] + ".json",
                calibrated_at=prof["source"].rsplit("zo2 commit ", 1)[-1] if "zo2 commit " in prof["source"] else "")
    return meta(data, None, [prof])


def validation(results_dir, profs):
    """Per card: the committed validation rows of its current profile (validation_<card>.csv)."""
    panels = []
    for card, prof in profs.items():
        name = f"validation_{prof['profile'].split('-')[0]}.csv"
        v = rows_latest.load(results_dir, name)
        config = ["model", "dtype", "wire", "master", "offload", "prefetch", "slots", "overlap", "writeback",
                  "prefetch_next", "fold_update"]
        step, mem = [], []
        for key, g in v.groupby(config, sort=False):
            vals = dict(zip(g.metric, g.value))
            cfg = dict(zip(config, key))
            label = f"{cfg['model']} {cfg['offload']} p{cfg['prefetch']} wb{cfg['writeback']}"
            if "sim_step_seconds" in vals and "step_time_error" in vals:
                step.append({"model": cfg["model"], "config": cfg, "label": label,
                             "x": vals["sim_step_seconds"] / (1 + vals["step_time_error"]),
                             "y": vals["sim_step_seconds"], "error": vals["step_time_error"],
                             "commit": g.commit.iloc[0], "date": g.date.iloc[0]})
            if "sim_peak_gpu_bytes" in vals and "peak_memory_error" in vals:
                mem.append({"model": cfg["model"], "config": cfg, "label": label,
                            "x": vals["sim_peak_gpu_bytes"] / (1 + vals["peak_memory_error"]) * 1e-9,
                            "y": vals["sim_peak_gpu_bytes"] * 1e-9, "error": vals["peak_memory_error"],
                            "commit": g.commit.iloc[0], "date": g.date.iloc[0]})
        panels.append({"card": card, "file": name, "series": [
            {"name": "step time (s)", "kind": "simulated", "metric": "step_seconds", "points": step},
            {"name": "peak memory (GB)", "kind": "simulated", "metric": "peak_gpu_bytes", "points": mem}]})
    return meta({"id": "fig6_validation", "title": "Simulator against measured runs, per card", "panels": panels},
                None, list(profs.values()))
