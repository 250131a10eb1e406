"""The results CSV schema (core/results_csv.cc's columns, docs/METRICS.md) for the Python tools that write rows."""
import csv
import os
import subprocess

COLUMNS = ["commit", "date", "card", "driver", "executor", "model", "batch", "seq", "dtype", "offload", "prefetch",
           "slots", "overlap", "wire", "master", "writeback", "prefetch_next", "gpu_mem_budget", "metric", "value",
           "unit", "repeats", "min", "median", "max"]
# Policy columns added after rows were written: the value a missing column (or an empty cell) stands for.
DEFAULTS = {"prefetch_next": "off"}


def with_defaults(df):
    """A results frame read with dtype=str and keep_default_na=False, its missing policy columns filled in."""
    for column, value in DEFAULTS.items():
        if column not in df.columns:
            df[column] = value
        df[column] = df[column].fillna(value).replace("", value)
    return df


def current_commit(repo="."):
    """$ZO2_COMMIT (the GPU machine has no git), else the checkout's short HEAD, else "unknown"."""
    if os.environ.get("ZO2_COMMIT"):
        return os.environ["ZO2_COMMIT"]
    proc = subprocess.run(["git", "-C", str(repo), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return proc.stdout.strip() if proc.returncode == 0 and proc.stdout.strip() else "unknown"


def append_rows(path, rows):
    """Appends dict rows, writing the header when the file is new; an existing file must have the same header."""
    if os.path.exists(path):
        with open(path, newline="") as f:
            header = next(csv.reader(f), [])
        if header != COLUMNS:
            raise SystemExit(f"{path}: header {','.join(header)} is not the results header ({','.join(COLUMNS)})")
    new = not os.path.exists(path)
    with open(path, "a", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS)
        if new:
            w.writeheader()
        w.writerows(rows)
