"""Draws the figures of docs/FIGURES.md from analysis/figure_series.py's data: PNG and SVG, and the data as JSON."""
import json
import pathlib
import statistics

import matplotlib

matplotlib.use("Agg")  # files only: no display on the build or GPU machines
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

# One look per kind of series: measured = filled markers and solid lines, simulated = dashed lines with open
# markers, published = crosses, bounds = dotted.
STYLE = {"measured": dict(ls="-", marker="o", ms=6), "simulated": dict(ls="--", marker="o", ms=5, mfc="none"),
         "published": dict(ls=":", marker="X", ms=8), "bound": dict(ls=":", marker="", lw=2)}
# SVG element ids come from a hash salted at random unless fixed: a fixed salt makes the files the same bytes on every
# run, so regenerating the figures changes nothing in git unless the data did.
plt.rcParams["svg.hashsalt"] = "zo2-figures"
COLORS = plt.rcParams["axes.prop_cycle"].by_key()["color"]
QUEUE_ORDER = ["h2d", "compute", "d2h", "host", "host_update"]
KIND_COLORS = {"h2d": "#1f77b4", "d2h": "#9467bd", "forward": "#2ca02c", "embed": "#2ca02c", "head": "#17becf",
               "zo_update": "#d62728", "zo_perturb": "#ff7f0e", "zo_minus": "#ffd700", "zo_restore": "#f7b6d2",
               "zo_fold": "#e377c2", "replay": "#8c564b",
               "loss": "#7f7f7f", "alloc": "#bcbd22", "free": "#bcbd22", "host_update": "#8c564b"}


def footer(fig, data):
    cards = ", ".join(c for c in data["cards"] if c)
    commits = ", ".join(data["commits"])
    fig.text(0.01, 0.005, f"card(s): {cards}; profiles: {', '.join(data['profiles'])}; commits: {commits}; "
             f"rows and calibration dated {data['date']}", fontsize=7, color="#444", wrap=True)


def save(fig, data, out_dir):
    out = pathlib.Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    footer(fig, data)
    fig.savefig(out / f"{data['id']}.png", dpi=110, metadata={"Software": None})
    fig.savefig(out / f"{data['id']}.svg", metadata={"Date": None, "Creator": None})
    plt.close(fig)
    (out / f"{data['id']}.json").write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    return [out / f"{data['id']}.{ext}" for ext in ("png", "svg", "json")]


def color_for(name):
    """Measured and simulated series of one thing share a colour and differ in line style."""
    for key, color in [("link bound, writeback 4", "k"), ("link bound", "#888888"), ("peer MeZO", "#8c564b"),
                       ("peer ZO2, its README", "#e377c2"), ("another call", "#ff9896"), ("peer ZO2", "#d62728"), ("MeZO LLaMA", "#bcbd22"),
                       ("MeZO", "#9467bd"), ("ours LLaMA", "#ff7f0e"), ("peer-like", "#2ca02c"),
                       ("device used", "#17becf")]:
        if key in name:
            return color
    return "#1f77b4"


def size_axes(data, ylabel, mark=None):
    n = len(data["panels"])
    fig, axes = plt.subplots(1, n, figsize=(7.5 * n, 8.2), squeeze=False)
    legend = {}
    for ax, panel in zip(axes[0], data["panels"]):
        for s in panel["series"]:
            pts = sorted(s["points"], key=lambda p: p["x"])
            if not pts:
                continue
            style = dict(STYLE[s["kind"]])
            if s["name"].startswith("peer") and s["kind"] == "measured":
                style.update(marker="X", ms=8, ls=":")
            if "LLaMA" in s["name"]:  # a family of unlike shapes (vocabularies 32k and 128k): markers, no line
                style.update(marker="^" if s["kind"] == "measured" else "v", ls="none", ms=8)
            (line,) = ax.plot([p["x"] for p in pts], [p["y"] for p in pts], color=color_for(s["name"]), **style)
            legend.setdefault(s["name"] if s["kind"] in s["name"] else f"{s['name']} [{s['kind']}]", line)
        if mark:
            mark(ax, panel)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("model parameters (billions, log scale)")
        ax.set_ylabel(ylabel + " (log scale)")
        ax.set_title(panel["card"])
        ax.grid(True, which="both", alpha=0.3)
    fig.suptitle(data["title"])
    fig.legend(list(legend.values()), list(legend.keys()), loc="lower center", ncol=3, fontsize=8,
               bbox_to_anchor=(0.5, 0.025))
    fig.tight_layout(rect=(0, 0.2, 1, 0.97))
    return fig


def memory(data, out_dir):
    def mark(ax, panel):
        ax.axhline(panel["capacity_GB"], color="k", lw=0.8)
        ax.text(1.3, panel["capacity_GB"] * 1.06, f"the card's memory, {panel['capacity_GB']:.0f} GB: resident "
                "MeZO does not fit above it", fontsize=8)
        for s in panel["series"]:
            for p in s["points"]:
                if s["kind"] == "published" and p["model"] == "opt-175b":
                    ax.annotate(f"peer's paper: {p['y']:.2f} GB at OPT-175B", (p["x"], p["y"]), xytext=(-200, 40),
                                textcoords="offset points", fontsize=8, arrowprops=dict(arrowstyle="->"))
    return save(size_axes(data, "peak GPU memory, GB", mark), data, out_dir)


def throughput(data, out_dir):
    return save(size_axes(data, "tokens per second"), data, out_dir)


def timeline(data, out_dir):
    fig, axes = plt.subplots(len(data["panels"]), 1, figsize=(14, 3.2 * len(data["panels"])), squeeze=False)
    span = max(op["start_ms"] + op["ms"] for panel in data["panels"] for op in panel["ops"])
    kinds = set()
    for ax, panel in zip(axes[:, 0], data["panels"]):
        queues = [q for q in QUEUE_ORDER if any(op["queue"] == q for op in panel["ops"])]
        for op in panel["ops"]:
            y = queues.index(op["queue"])
            kind = "h2d" if op["queue"] == "h2d" else "d2h" if op["queue"] == "d2h" else op["kind"]
            kinds.add(kind)
            ax.broken_barh([(op["start_ms"], op["ms"])], (y - 0.4, 0.8), facecolors=KIND_COLORS.get(kind, "#999"),
                           edgecolors="white", linewidth=0.2)
        ax.set_yticks(range(len(queues)), queues)
        ax.invert_yaxis()
        ax.set_xlim(0, span * 1.01)
        ax.set_xlabel("time since the step's first op (ms)")
        ax.set_title(f"{panel['label']} — simulated on {panel['profile']} ({panel['card']}), step {panel['step']}: "
                     f"{panel['step_seconds_simulated'] * 1e3:.0f} ms", fontsize=10)
    handles = [Patch(color=KIND_COLORS.get(k, "#999"), label=k) for k in sorted(kinds)]
    fig.legend(handles=handles, loc="lower center", fontsize=8, ncol=len(handles), bbox_to_anchor=(0.5, 0.03),
               title="op kind (compute queue) or copy direction", title_fontsize=8)
    fig.suptitle(data["title"] + "; no Nsight Systems timeline committed (docs/FIGURES.md)")
    fig.tight_layout(rect=(0, 0.11, 1, 0.96))
    return save(fig, data, out_dir)


def ablation(data, out_dir):
    n = len(data["panels"])
    fig, axes = plt.subplots(1, n, figsize=(8 * n, 6.5), squeeze=False)
    values = [v for panel in data["panels"] for r in panel["runs"] for v in (r["measured"], r["simulated"]) if v]
    lo, hi = min(values) / 2, max(values) * 1.6
    for ax, panel in zip(axes[0], data["panels"]):
        runs = panel["runs"]
        ys = list(range(len(runs)))
        measured = [(y, r["measured"]) for y, r in zip(ys, runs) if r["measured"] is not None]
        ax.barh([y - 0.2 for y, _ in measured], [v for _, v in measured], 0.4, color=COLORS[0],
                label="measured (newest row of the run's policy)")
        ax.barh([y + 0.2 for y in ys], [r["simulated"] for r in runs], 0.4, color=COLORS[1], alpha=0.6, hatch="//",
                label=f"simulated ({runs[0]['profile']})")
        for y, r in zip(ys, runs):
            if r["measured"] is None:
                ax.text(lo * 1.1, y - 0.2, "not measured on this card", va="center", fontsize=7)
        ax.set_yticks(ys, [f"{r['spec']}: {r['label']}" for r in runs], fontsize=8)
        ax.set_ylim(len(runs) - 0.5, -0.5)
        ax.set_xscale("log")
        ax.set_xlim(lo, hi)
        ax.set_xlabel("tokens per second (log scale)")
        ax.set_title(panel["card"])
        ax.grid(True, axis="x", which="both", alpha=0.3)
        ax.legend(fontsize=8, loc="lower right")
    fig.suptitle(data["title"] + " (batch 1, seq 2048; dtype fp16 unless named)")
    fig.tight_layout(rect=(0, 0.03, 1, 0.97))
    return save(fig, data, out_dir)


def policy_map(data, out_dir):
    panel = data["panels"][0]
    grid, winners = panel["series"]
    fig, ax = plt.subplots(figsize=(11, 6.5))
    markers = {"1": "o", "2": "s", "4": "D", "8": "v", "16": "P"}
    colors = {("fp16", "off"): COLORS[0], ("fp16", "on"): COLORS[2], ("fp8", "off"): COLORS[3]}
    seen = set()
    for p in grid["points"]:
        pol = p["policy"]
        key = (pol["wire"], pol["prefetch_next"], pol["writeback"])
        label = f"wire {pol['wire']}, prefetch-next {pol['prefetch_next']}, writeback {pol['writeback']}"
        color = colors[(pol["wire"], pol["prefetch_next"])]
        ax.scatter(p["x"], p["y"], s=25 + 18 * int(pol["prefetch"]), marker=markers[pol["writeback"]],
                   facecolors=color if pol["prefetch_next"] == "on" else "none", edgecolors=color, alpha=0.8,
                   label=label if key not in seen else None)
        seen.add(key)
    lines = []
    for b in winners["points"]:
        ax.axvline(b["budget_GB"], color="#888", ls=":", lw=1)
        ax.scatter(b["x"], b["y"], marker="*", s=260, color="gold", edgecolors="k", zorder=5)
        ax.annotate(f"≤{b['budget_GB']:.0f} GB", (b["x"], b["y"]), xytext=(-14, 12), textcoords="offset points",
                    fontsize=7)
        pol = b["policy"]
        lines.append(f"≤{b['budget_GB']:.0f} GB: {b['y']:.0f} tok/s in {b['x']:.1f} GB — offload {pol['offload']}, "
                     f"prefetch {pol['prefetch']}, writeback {pol['writeback']}, prefetch-next {pol['prefetch_next']}")
    ax.text(0.02, 0.3, "fastest under each budget (stars):\n" + "\n".join(lines), transform=ax.transAxes, fontsize=8,
            va="center", bbox=dict(facecolor="white", edgecolor="#aaa"))
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("predicted peak GPU memory (GB, allocator peak, log scale); dotted: budgets 18/24/40/80 GB")
    ax.set_ylabel("predicted tokens per second (log scale)")
    ax.set_title(f"{panel['card']} ({data['profiles'][0]}); marker size = prefetch depth 0/1/2/4; "
                 "stars = fastest under each budget", fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="center right")
    fig.suptitle(data["title"])
    fig.tight_layout(rect=(0, 0.03, 1, 0.97))
    return save(fig, data, out_dir)


def validation(data, out_dir):
    n = len(data["panels"])
    fig, axes = plt.subplots(2, n, figsize=(7 * n, 11), squeeze=False)
    for col, panel in enumerate(data["panels"]):
        for row, s in enumerate(panel["series"]):
            ax = axes[row, col]
            pts = s["points"]
            if not pts:
                continue
            families = sorted({p["model"].split("-")[0] for p in pts})
            for i, fam in enumerate(families):
                sel = [p for p in pts if p["model"].split("-")[0] == fam]
                ax.scatter([p["x"] for p in sel], [p["y"] for p in sel], color=COLORS[i], label=fam, s=22)
            lo = min(min(p["x"], p["y"]) for p in pts) * 0.8
            hi = max(max(p["x"], p["y"]) for p in pts) * 1.25
            ax.plot([lo, hi], [lo, hi], "k-", lw=0.8, label="simulated = measured")
            ax.fill_between([lo, hi], [lo * 0.9, hi * 0.9], [lo * 1.1, hi * 1.1], color="k", alpha=0.08,
                            label="±10 %")
            errs = sorted(abs(p["error"]) for p in pts)
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel(f"measured {s['name']}, log scale")
            ax.set_ylabel(f"simulated {s['name']}, log scale")
            ax.set_title(f"{panel['card']}: {len(pts)} configurations, |error| median "
                         f"{statistics.median(errs):.1%}, max {errs[-1]:.1%} ({panel['file']})", fontsize=9)
            ax.grid(True, which="both", alpha=0.3)
            ax.legend(fontsize=8)
    fig.suptitle(data["title"])
    fig.tight_layout(rect=(0, 0.02, 1, 0.97))
    return save(fig, data, out_dir)
