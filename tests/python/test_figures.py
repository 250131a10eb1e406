# analysis/reproduce.py's figures against the rows they came from: each figure's data (figures/<id>.json) is
# recomputed here from the results CSVs (read with the csv module), the committed validation rows, and zo2 simulate.
# Not pixels: the series behind each plot.
import csv
import glob
import json
import os
import pathlib
import random
import subprocess
import sys

import pytest

from conftest import REPO

RESULTS = REPO / "experiments" / "results"
FIGURE_IDS = ["fig1_memory", "fig2_throughput", "fig3_timeline", "fig4_ablation", "fig5_policy_map",
              "fig6_validation", "fig7_task"]
# What this test expects the named series to select, written out independently of analysis/figure_series.py.
FP16_OFFLOADED = {"dtype": "fp16", "wire": "fp16", "master": "fp16", "slots": "reuse", "overlap": "on",
                  "offload": "all"}
EXPECTED_POLICY = {
    "ours, offloaded, measured (allocator peak)": {**FP16_OFFLOADED, "prefetch": "2", "writeback": "4"},
    "ours, prefetch 2, writeback 4, prefetch-next, measured": {**FP16_OFFLOADED, "prefetch": "2", "writeback": "4",
                                                              "prefetch_next": "on"},
    "ours, peer-like (prefetch 1, writeback 1), measured": {**FP16_OFFLOADED, "prefetch": "1", "writeback": "1",
                                                           "prefetch_next": "off"},
    "MeZO resident, measured (allocator peak)": {"dtype": "fp16", "offload": "none", "fold_update": "on"},
}
DEFAULTS = {"prefetch_next": "off", "fold_update": "off"}  # columns rows from before them lack: read as off


@pytest.fixture(scope="module")
def made(tmp_path_factory, zo2_bin):
    out = tmp_path_factory.mktemp("figures")
    proc = subprocess.run([sys.executable, str(REPO / "analysis" / "reproduce.py"), "--zo2", zo2_bin, "--figures",
                           str(out / "figures"), "--page", str(out / "FIGURES.md"), "--results-page",
                           str(out / "RESULTS.md")], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out


def data(made, fid):
    return json.loads((made / "figures" / f"{fid}.json").read_text())


def csv_rows():
    rows = []
    for path in sorted(glob.glob(str(RESULTS / "*.csv"))):
        with open(path, newline="") as f:
            reader = csv.DictReader(f)
            # Results rows only: other CSVs under results/ (codec ratios, fuzz campaigns, task runs) have their own
            # columns and feed no figure here.
            if not {"card", "executor", "model", "metric", "value"} <= set(reader.fieldnames or []):
                continue
            for r in reader:
                for k, v in DEFAULTS.items():
                    r[k] = r.get(k) or v
                r["_file"] = os.path.basename(path)
                rows.append(r)
    return rows


def is_ancestor(a, b):
    """a is an ancestor of b (or equal) in this checkout's history."""
    return subprocess.run(["git", "-C", str(REPO), "merge-base", "--is-ancestor", a, b],
                          capture_output=True).returncode == 0


def simulate(zo2, model, profile, policy, *extra):
    flags = []
    for k, v in policy.items():
        if v not in (None, ""):
            flags += ["--" + k.replace("_", "-"), str(v)]
    proc = subprocess.run([zo2, "simulate", "--model", model, "--profile", profile, "--batch", "1", "--seq", "2048",
                           "--format", "json", *flags, *extra], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_every_figure_is_written_and_shown(made):
    page = (made / "FIGURES.md").read_text()
    for fid in FIGURE_IDS:
        for ext in ("png", "svg", "json"):
            assert (made / "figures" / f"{fid}.{ext}").stat().st_size > 1000, f"{fid}.{ext}"
        assert f"../figures/{fid}.png" in page
        d = data(made, fid)
        assert d["cards"] and d["commits"] and d["date"], fid
    assert (made / "RESULTS.md").read_text() == (REPO / "docs" / "RESULTS.md").read_text()


def matching(rows, card, executor, model, policy, metric):
    return [r for r in rows if r["card"] == card and r["executor"] == executor and r["model"] == model
            and r["metric"] == metric and all(r[k] == v for k, v in policy.items())]


@pytest.mark.parametrize("fid", ["fig1_memory", "fig2_throughput"])
def test_measured_points_are_the_newest_matching_rows(made, fid):
    rows = csv_rows()
    d = data(made, fid)
    checked = 0
    for panel in d["panels"]:
        for s in panel["series"]:
            if s["kind"] not in ("measured", "published"):
                continue
            if s["name"] in EXPECTED_POLICY:
                assert s["points"] and all(p["policy"] == EXPECTED_POLICY[s["name"]] for p in s["points"]), s["name"]
            peer = s["name"].startswith("peer")
            card = "" if s["kind"] == "published" else panel["card"]
            executor = "peer-zo2" if peer else "cuda"
            for p in s["points"]:
                cands = matching(rows, card, executor, p["model"], p["policy"], p["metric"])
                if "source" in s:  # the peer's series: one source (one call) each
                    cands = [r for r in cands if r.get("source") == s["source"]]
                assert cands, f"{s['name']} {p['model']}: no row"
                mine = [r for r in cands if r["commit"] == p["commit"] and r["date"] == p["date"]
                        and abs(float(r["value"]) * p["scale"] - p["y"]) <= 1e-9 * abs(p["y"])]
                assert mine, f"{s['name']} {p['model']}: {p['y']} is no row of commit {p['commit']}"
                for r in cands:  # none newer: a later date, or the same date and a descendant commit
                    assert r["date"] <= p["date"], (s["name"], p["model"], r)
                    if r["date"] == p["date"] and r["commit"] != p["commit"] and not peer:
                        assert not is_ancestor(p["commit"], r["commit"]), (s["name"], p["model"], r["commit"])
                checked += 1
            # Every model with a matching row is drawn.
            if s["points"]:
                policy, metric = s["points"][0]["policy"], s["metric"]
                models = {r["model"] for r in rows if r["card"] == card and r["executor"] == executor
                          and r["metric"] == metric and all(r[k] == v for k, v in policy.items())
                          and r.get("source", "") == s.get("source", "")}
                drawn = {p["model"] for p in s["points"]}
                family = "llama" if "LLaMA" in s["name"] else "opt"
                assert {m for m in models if m.startswith(family) and ":" not in m
                        and m.endswith("b")} <= drawn | {"opt-125m", "opt-350m"}, s["name"]
    assert checked > 20


@pytest.mark.parametrize("fid", ["fig1_memory", "fig2_throughput"])
def test_simulated_points_and_bounds_are_the_simulators(made, fid, zo2_bin):
    d = data(made, fid)
    for panel in d["panels"]:
        for s in panel["series"]:
            for p in s["points"]:
                if s["kind"] == "simulated":
                    sim = simulate(zo2_bin, p["model"], p["profile"], p["policy"])
                    assert sim[p["metric"]] * p["scale"] == pytest.approx(p["y"], rel=1e-9), (s["name"], p["model"])
                elif s["kind"] == "bound":
                    prof = json.loads((REPO / "simulator" / "profiles" / f"{p['profile']}.json").read_text())
                    one_way = max(v for _, v in prof["h2d_pinned_bytes_per_second"]["points"])
                    both = prof["concurrent_bytes_per_second"]["value"]
                    sim = simulate(zo2_bin, p["model"], p["profile"], p["policy"])
                    up, down = sim["h2d_bytes_per_step"], sim["d2h_bytes_per_step"]
                    assert 2048 / max(up / one_way, (up + down) / both) == pytest.approx(p["y"], rel=1e-9)


def test_ablation_bars_are_the_specs_runs(made, zo2_bin):
    rows = csv_rows()
    d = data(made, "fig4_ablation")
    specs = []
    for name in ["ablation", "wire", "wirehost"]:
        spec = json.loads((REPO / "experiments" / "specs" / "engine" / f"{name}.json").read_text())
        specs += [{**spec.get("common", {}), **run} for run in spec["runs"]]
    for panel in d["panels"]:
        assert len(panel["runs"]) == len(specs)
        for run, bar in zip(specs, panel["runs"]):
            policy = {k: v for k, v in run.items() if k not in ("model", "steps")}
            sim = simulate(zo2_bin, run["model"], bar["profile"], policy)
            assert sim["tokens_per_second"] == pytest.approx(bar["simulated"], rel=1e-9)
            resolved = {k: str(sim["policy"][k]) for k in ["dtype", "offload", "prefetch", "slots", "overlap", "wire",
                                                           "master", "writeback", "prefetch_next"]}
            cands = matching(rows, panel["card"], "cuda", run["model"], resolved, "tokens_per_second")
            if not cands:
                assert bar["measured"] is None
                continue
            assert any(r["commit"] == bar["commit"] and float(r["value"]) == pytest.approx(bar["measured"], rel=1e-12)
                       for r in cands)
            for r in cands:
                if r["commit"] != bar["commit"]:
                    assert not (r["date"] == bar["date"] and is_ancestor(bar["commit"], r["commit"]))


def test_policy_map_marks_the_fastest_under_each_budget(made, zo2_bin):
    d = data(made, "fig5_policy_map")
    grid, winners = d["panels"][0]["series"]
    assert len(grid["points"]) == 4 * 5 * 2 + 4
    assert [w["budget_GB"] for w in winners["points"]] == [18, 24, 40, 80]
    for w in winners["points"]:
        assert w["x"] <= w["budget_GB"]
        for p in grid["points"]:
            if p["x"] <= w["budget_GB"]:
                assert p["y"] <= w["y"] * (1 + 1e-12), (w["budget_GB"], p["policy"])
    seed = int.from_bytes(os.urandom(4), "little")
    print(f"seed {seed}")
    for p in random.Random(seed).sample(grid["points"], 4):
        policy = {k: v for k, v in p["policy"].items() if k != "gpu_mem_budget"}
        sim = simulate(zo2_bin, "opt-175b", d["profiles"][0].removesuffix(".json"), policy)
        assert sim["tokens_per_second"] == pytest.approx(p["y"], rel=1e-9)
        assert sim["peak_gpu_bytes"] * 1e-9 == pytest.approx(p["x"], rel=1e-9)


def test_validation_points_are_the_committed_validation_rows(made):
    d = data(made, "fig6_validation")
    for panel in d["panels"]:
        with open(RESULTS / panel["file"], newline="") as f:
            rows = list(csv.DictReader(f))
        step, mem = panel["series"]
        sims = [r for r in rows if r["metric"] == "sim_step_seconds"]
        assert len(step["points"]) == len(sims)
        for p in step["points"]:
            c = p["config"]
            same = [r for r in rows if all((r.get(k) or DEFAULTS.get(k, "")) == v for k, v in c.items())]
            sim = float(next(r["value"] for r in same if r["metric"] == "sim_step_seconds"))
            err = float(next(r["value"] for r in same if r["metric"] == "step_time_error"))
            assert p["y"] == pytest.approx(sim) and p["x"] == pytest.approx(sim / (1 + err))
        assert len(mem["points"]) == sum(r["metric"] == "peak_memory_error" for r in rows)


def test_timeline_is_the_simulators_trace(made, zo2_bin, tmp_path):
    d = data(made, "fig3_timeline")
    assert len(d["panels"]) == 2
    for panel in d["panels"]:
        trace = tmp_path / "t.json"
        simulate(zo2_bin, "opt-6.7b", panel["profile"], panel["policy"], "--trace", str(trace))
        ev = [e for e in json.loads(trace.read_text())["traceEvents"] if e.get("ph") == "X"
              and e["args"].get("step", 0) == panel["step"]]
        assert [e["name"] for e in ev] == [op["name"] for op in panel["ops"]]
        t0 = min(e["ts"] for e in ev)
        assert [(e["ts"] - t0) / 1e3 for e in ev] == pytest.approx([op["start_ms"] for op in panel["ops"]])
        queues = {op["queue"] for op in panel["ops"]}
        assert {"h2d", "compute", "d2h"} <= queues


def test_task_curves_are_the_sentiment_rows(made):
    d = data(made, "fig7_task")
    path = RESULTS / d["file"]
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    # Every loss row and dev/test accuracy row is one point of one series, and every point is a row.
    wanted = {(r["run"], r["policy"], r["split"], r["metric"], int(r["step"])): float(r["value"]) for r in rows
              if (r["metric"], r["split"]) in {("loss", "train"), ("accuracy", "dev"), ("accuracy", "test")}}
    drawn = {}
    for panel, metric in zip(d["panels"], ["loss", "accuracy"]):
        for s in panel["series"]:
            assert s["kind"] == "measured" and s["name"].endswith("measured") and s["metric"] == metric, s["name"]
            for p in s["points"]:
                key = (s["run"], s["policy"], s["split"], metric, p["x"])
                assert key not in drawn, key
                drawn[key] = p["y"]
    assert drawn == wanted
    # Commit, date and card: the rows' own, or (rows from before those columns) the file's last commit.
    if rows and "commit" in rows[0]:
        assert d["commits"] == sorted({r["commit"] for r in rows}) and d["date"] == max(r["date"] for r in rows)
        assert d["cards"] == sorted({r["card"] for r in rows})
    else:
        log = subprocess.run(["git", "-C", str(REPO), "log", "-1", "--format=%h %cs", "--", str(path)],
                             capture_output=True, text=True).stdout.split()
        assert [d["commits"], d["date"]] == [[log[0]], log[1]]
    # The check pair: the offloaded run's loss and accuracies are the resident run's, step for step.
    check = {}
    for (run, policy, split, metric, step), v in wanted.items():
        if run.startswith("check-"):
            check.setdefault(policy, {})[(split, metric, step)] = v
    same = len(check) == 2 and check["resident"] == check["offload-all"]
    assert d["offloaded_equals_resident"] == same
