"""Results rows (experiments/results/*.csv) read as one frame, and the newest row of each configuration.

Newest = the latest `date`, then the commit nearest the checkout's HEAD in git's history (a commit the history lacks,
or a checkout without git, counts as older than every known one), then the later file (by name) and row. Every
column is read as text; columns a file lacks (policy columns added later, `source`) read as empty, and the policy
defaults of results_rows.DEFAULTS fill in.
"""
import functools
import glob
import os
import pathlib
import subprocess

import pandas as pd

from results_rows import with_defaults

REPO = pathlib.Path(__file__).resolve().parents[1]
RESULT_KEYS = {"card", "executor", "model", "metric", "value"}  # what makes a CSV results rows


def load(results_dir, pattern="*.csv"):
    frames = []
    for path in sorted(glob.glob(os.path.join(results_dir, pattern))):
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
        if not RESULT_KEYS <= set(df.columns):
            continue  # another table under results/ (codec ratios, task runs): not results rows
        df = with_defaults(df)
        df["file"] = os.path.basename(path)
        df["row"] = range(len(df))
        frames.append(df)
    rows = pd.concat(frames, ignore_index=True).fillna("")
    rows["value"] = pd.to_numeric(rows["value"], errors="coerce")
    return rows


@functools.lru_cache(maxsize=None)
def commit_ranks(repo=str(REPO)):
    """Abbreviated commit -> its distance from the first commit (larger = newer), from `git rev-list`."""
    proc = subprocess.run(["git", "-C", repo, "rev-list", "--topo-order", "--reverse", "HEAD"], capture_output=True,
                          text=True)
    if proc.returncode != 0:
        return {}
    return {h: i for i, h in enumerate(proc.stdout.split())}


def commit_rank(commit):
    if not commit:
        return -1
    ranks = commit_ranks()
    # Rows name commits by 7-character prefixes; look them up by prefix once.
    return _prefix_rank(commit, len(ranks))


@functools.lru_cache(maxsize=None)
def _prefix_rank(commit, _n):
    for full, rank in commit_ranks().items():
        if full.startswith(commit):
            return rank
    return -1


def newest_first_order(rows):
    """The frame sorted oldest to newest (the order `newest` keeps the last of)."""
    key = rows.assign(_rank=rows["commit"].map(commit_rank))
    return key.sort_values(["date", "_rank", "file", "row"], kind="stable").drop(columns=["_rank"])


def newest(rows, config):
    """One row per (config columns, metric): the newest by the order above."""
    return newest_first_order(rows).drop_duplicates(subset=list(config) + ["metric"], keep="last")


def by_source(rows):
    """Rows that cite a source (the peer's numbers) split by it, the source with the most rows first: one source is
    one machine and one call, so a series never mixes two."""
    if "source" not in rows.columns:
        return []
    cited = rows[rows["source"] != ""]
    order = cited["source"].value_counts()
    return [cited[cited["source"] == src] for src in sorted(order.index, key=lambda x: (-order[x], x))]
