"""Figure 7: loss and accuracy against steps on a task, resident and offloaded, from the rows
experiments/sentiment_mezo.py writes (experiments/results/sentiment_smollm2_mezo.csv): its data and its drawing.

Rows written before the CSV had the commit, date and card columns name the commit and date of the git commit that
last wrote the file, and "card not recorded".
"""
import csv
import pathlib
import subprocess

import figure_plots

FILE = "sentiment_smollm2_mezo.csv"
UNRECORDED = "card not recorded"


def git_stamp(path):
    """(short commit, date) of the last commit that wrote `path`, or ("unknown", "")."""
    proc = subprocess.run(["git", "-C", str(path.parent), "log", "-1", "--format=%h %cs", "--", path.name],
                          capture_output=True, text=True)
    parts = proc.stdout.split()
    return (parts[0], parts[1]) if proc.returncode == 0 and len(parts) == 2 else ("unknown", "")


def read_rows(results_dir):
    """The file's rows as dicts, the missing commit / date / card filled in as the docstring says."""
    path = pathlib.Path(results_dir) / FILE
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if rows and not all(r.get("commit") and r.get("date") for r in rows):
        commit, date = git_stamp(path)
        for r in rows:
            r["commit"], r["date"] = r.get("commit") or commit, r.get("date") or date
    for r in rows:
        r["card"] = r.get("card") or UNRECORDED
    return rows


def series_name(r, split=None):
    who = "zero-shot" if r["run"] == "zero-shot" else f"{r['run']}, {r['policy']}"
    return f"{who}{', ' + split if split else ''}, measured"


def task_curves(results_dir):
    """{"panels": [loss, accuracy]}: a measured series per run (loss) and per run and split (accuracy), each point a
    row: x the step, y the value, with the row's commit and date."""
    rows = read_rows(results_dir)
    panels = {"loss": {}, "accuracy": {}}
    for r in rows:
        if r["metric"] == "loss" and r["split"] == "train":
            key, panel = series_name(r), "loss"
        elif r["metric"] == "accuracy" and r["split"] in ("dev", "test"):
            key, panel = series_name(r, r["split"]), "accuracy"
        else:
            continue
        s = panels[panel].setdefault(key, {"name": key, "kind": "measured", "metric": r["metric"], "run": r["run"],
                                           "policy": r["policy"], "split": r["split"], "points": []})
        s["points"].append({"x": int(r["step"]), "y": float(r["value"]), "commit": r["commit"], "date": r["date"],
                            "card": r["card"]})
    for group in panels.values():
        for s in group.values():
            s["points"].sort(key=lambda p: p["x"])
    # the check pair, series by series (loss; dev and test accuracy): the offloaded run's points are the resident's
    check = {}
    for group in panels.values():
        for s in group.values():
            if s["run"].startswith("check-"):
                check.setdefault((s["metric"], s["split"]), {})[s["policy"]] = [(p["x"], p["y"]) for p in s["points"]]
    same = bool(check) and all(len(v) == 2 and v.get("resident") == v.get("offload-all") for v in check.values())
    cards = sorted({r["card"] for r in rows})
    data = {"id": "fig7_task", "title": "SmolLM2-135M, MeZO on the generated SST-2-format set: loss and accuracy, "
            "resident and offloaded", "file": FILE,
            "panels": [{"card": ", ".join(cards), "name": name, "series": list(panels[name].values())}
                       for name in ("loss", "accuracy")],
            "offloaded_equals_resident": same,
            "cards": cards, "commits": sorted({r["commit"] for r in rows}), "date": max(r["date"] for r in rows),
            "devices": sorted({r.get("device") or "" for r in rows} - {""}), "profiles": ["none (measured rows only)"]}
    return data


def running_mean(ys, k):
    out, total = [], 0.0
    for i, y in enumerate(ys):
        total += y - (ys[i - k] if i >= k else 0.0)
        out.append(total / min(i + 1, k))
    return out


def plot(data, out_dir):
    plt = figure_plots.plt
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(15, 6.5))
    runs = list(dict.fromkeys(s["run"] for p in data["panels"] for s in p["series"]))
    color = {run: figure_plots.COLORS[i % len(figure_plots.COLORS)] for i, run in enumerate(runs)}
    for s in data["panels"][0]["series"]:
        xs, ys = [p["x"] for p in s["points"]], [p["y"] for p in s["points"]]
        k = max(1, len(ys) // 20)
        offloaded = s["policy"] == "offload-all"
        ax_loss.plot(xs, ys, color=color[s["run"]], lw=0.5, alpha=0.35)
        ax_loss.plot(xs, running_mean(ys, k), color=color[s["run"]], lw=2 if not offloaded else 1.2,
                     ls="--" if offloaded else "-", marker="x" if offloaded else "", ms=4,
                     label=f"{s['name']} (mean of {k})")
    ax_loss.set_xlabel("step")
    ax_loss.set_ylabel("training loss on the answer token (nats; faint: each step)")
    ax_loss.set_title(data["panels"][0]["card"])
    for s in data["panels"][1]["series"]:
        xs, ys = [p["x"] for p in s["points"]], [p["y"] for p in s["points"]]
        offloaded = s["policy"] == "offload-all"
        ax_acc.plot(xs, ys, color=color[s["run"]], ls=":" if s["split"] == "test" else "-",
                    marker="x" if offloaded else "o", ms=8 if offloaded else 5, mfc="none" if offloaded else None,
                    label=s["name"])
    ax_acc.set_xlabel("step")
    ax_acc.set_ylabel("accuracy (candidate scoring; dev solid, test dotted)")
    ax_acc.set_title(f"offloaded run equals the resident run: {data['offloaded_equals_resident']}")
    for ax in (ax_loss, ax_acc):
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(data["title"])
    fig.tight_layout(rect=(0, 0.03, 1, 0.97))
    return figure_plots.save(fig, data, out_dir)
