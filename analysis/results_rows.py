"""The results CSV schema (core/results_csv.cc's columns, docs/METRICS.md) for the Python tools that write rows."""
import csv
import json
import os
import subprocess

# The knob table and the results columns as the zo2 binary states them (`zo2 knobs --format json`, committed as
# analysis/knobs.json and checked against the binary by tests/simulator/test_knobs.cc).
KNOBS_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "knobs.json")
with open(KNOBS_FILE) as _f:
    _SCHEMA = json.load(_f)
KNOBS = _SCHEMA["knobs"]                  # [{"name", "flag", "kind", "default", "legacy"?, "search", ...}] in order
COLUMNS = _SCHEMA["result_columns"]       # core/results_csv.cc result_columns(), in order
POLICY = [k["name"] for k in KNOBS]       # the policy columns, dtype ... gpu_mem_budget
FLAG = {k["name"]: k["flag"] for k in KNOBS}
# Policy columns added after rows were written: the value a missing column (or an empty cell) stands for, what those
# runs did (rows from before --fold-update ran ZO2's order, the update pending until the next step: "off").
DEFAULTS = {k["name"]: k["legacy"] for k in KNOBS if "legacy" in k}


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


def migrate(path, header):
    """Rewrites a results file written before the columns in DEFAULTS existed with those columns empty, which readers
    take as the default (to a temporary name, then renamed, so a failure leaves the old file whole). Any other header
    is an error."""
    if [c for c in COLUMNS if c not in DEFAULTS or c in header] != header:
        raise SystemExit(f"{path}: header {','.join(header)} is not the results header ({','.join(COLUMNS)})")
    with open(path, newline="") as f:
        old_rows = list(csv.DictReader(f))
    tmp = path + ".tmp"
    with open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS)
        w.writeheader()
        w.writerows({**{c: "" for c in DEFAULTS}, **r} for r in old_rows)
    os.replace(tmp, path)


def append_rows(path, rows):
    """Appends dict rows, writing the header when the file is new; a file with an older header (fewer policy
    columns) is migrated first; any other header is an error."""
    if os.path.exists(path):
        with open(path, newline="") as f:
            header = next(csv.reader(f), [])
        if header != COLUMNS:
            migrate(path, header)
    new = not os.path.exists(path)
    with open(path, "a", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS)
        if new:
            w.writeheader()
        w.writerows(rows)
