# analysis/validate_simulator.py's plumbing on a tiny synthetic measured CSV: simulated rows in the results format,
# errors that match `zo2 simulate` by hand, a figure. Not about the simulator's accuracy.
import csv
import json
import subprocess
import sys

import pandas as pd

from conftest import REPO, run_zo2

SCRIPT = REPO / "analysis" / "validate_simulator.py"
sys.path.insert(0, str(REPO / "analysis"))
from results_rows import COLUMNS  # noqa: E402  (the header rows are written with now)

# Rows measured before the prefetch_next and fold_update columns existed: a missing column means off.
OLD_HEADER = (REPO / "experiments" / "results" / "offload_h200.csv").read_text().splitlines()[0].split(",")


def measured_csv(path, configs, header=OLD_HEADER):
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=header)
        w.writeheader()
        for cfg, step, peak in configs:
            base = dict(commit="test", date="2026-01-01", card="Test Card", driver="0", executor="cuda",
                        model="opt-125m", batch="1", seq="256", dtype="fp16", offload="all", prefetch="1",
                        slots="reuse", overlap="on", wire="fp16", master="fp16", writeback="1", gpu_mem_budget="0",
                        repeats="4", min="", median="", max="")
            base.update(cfg)
            w.writerow(dict(base, metric="step_seconds", value=str(step), unit="s", median=str(step)))
            w.writerow(dict(base, metric="peak_allocated_bytes", value=str(peak), unit="B"))
            w.writerow(dict(base, metric="tokens_per_second", value="1", unit="tok/s"))  # ignored
            # Another executor's row for the same configuration: ignored too.
            w.writerow(dict(base, executor="sim", metric="step_seconds", value="123", unit="s"))


def test_validate_simulator_writes_results_rows_and_a_figure(tmp_path, zo2_bin):
    configs = [({}, 0.010, 400e6), ({"prefetch": "2", "writeback": "4"}, 0.020, 500e6),
               ({"offload": "0-5", "slots": "alloc", "overlap": "off"}, 0.030, 600e6)]
    new_configs = [({"prefetch": "3", "writeback": "2", "prefetch_next": "on"}, 0.015, 450e6),
                   ({"offload": "none", "fold_update": "on"}, 0.012, 800e6)]
    measured, measured_new = tmp_path / "measured.csv", tmp_path / "measured_new.csv"
    measured_csv(measured, configs)
    measured_csv(measured_new, new_configs, header=COLUMNS)
    configs += new_configs
    out, fig = tmp_path / "validation.csv", tmp_path / "validation.png"
    proc = subprocess.run([sys.executable, str(SCRIPT), str(measured), str(measured_new), "--profile", "h100-targets",
                           "--zo2", zo2_bin, "--out", str(out), "--figure", str(fig)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "median" in proc.stdout and "max" in proc.stdout
    assert fig.exists() and fig.stat().st_size > 0

    rows = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert list(rows.columns) == COLUMNS
    assert sorted(rows["prefetch_next"].unique()) == ["off", "on"]
    assert sorted(rows["fold_update"].unique()) == ["off", "on"]  # an empty or missing cell: off
    assert set(rows["executor"]) == {"sim"}
    assert sorted(rows["metric"].unique()) == ["peak_memory_error", "sim_peak_gpu_bytes", "sim_step_seconds",
                                               "step_time_error"]
    assert len(rows) == 4 * len(configs)
    for cfg, step, peak in configs:
        sel = rows[(rows["prefetch"] == cfg.get("prefetch", "1")) & (rows["offload"] == cfg.get("offload", "all"))]
        get = {m: float(sel[sel["metric"] == m]["value"].iloc[0]) for m in sel["metric"]}
        # The same numbers `zo2 simulate` gives for this configuration by hand.
        flags = ["--prefetch", cfg.get("prefetch", "1"), "--offload", cfg.get("offload", "all"),
                 "--slots", cfg.get("slots", "reuse"), "--overlap", cfg.get("overlap", "on"),
                 "--writeback", cfg.get("writeback", "1"), "--prefetch-next", cfg.get("prefetch_next", "off"),
                 "--fold-update", cfg.get("fold_update", "off")]
        sim = json.loads(run_zo2(zo2_bin, "simulate", "--model", "opt-125m", "--profile", "h100-targets", "--batch",
                                 "1", "--seq", "256", "--dtype", "fp16", "--format", "json", *flags).stdout)
        assert abs(get["sim_step_seconds"] / sim["step_seconds"] - 1) < 1e-5
        assert abs(get["step_time_error"] - (sim["step_seconds"] / step - 1)) < 1e-5 * (1 + abs(get["step_time_error"]))
        assert abs(get["peak_memory_error"] - (sim["peak_gpu_bytes"] / peak - 1)) < 1e-5 * (
            1 + abs(get["peak_memory_error"]))
        if cfg.get("fold_update") == "on":  # the column reached the simulator: off would price the step otherwise
            flags[-1] = "off"
            pending = json.loads(run_zo2(zo2_bin, "simulate", "--model", "opt-125m", "--profile", "h100-targets",
                                         "--batch", "1", "--seq", "256", "--dtype", "fp16", "--format", "json",
                                         *flags).stdout)
            assert abs(get["sim_step_seconds"] / pending["step_seconds"] - 1) > 1e-3

    # --append keeps the earlier rows; a missing column is named.
    proc = subprocess.run([sys.executable, str(SCRIPT), str(measured), str(measured_new), "--profile", "h100-targets",
                           "--zo2", zo2_bin, "--out", str(out), "--append"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert len(pd.read_csv(out)) == 8 * len(configs)
    bad = tmp_path / "bad.csv"
    pd.read_csv(measured, dtype=str).drop(columns=["slots"]).to_csv(bad, index=False)
    proc = subprocess.run([sys.executable, str(SCRIPT), str(bad), "--profile", "h100-targets", "--zo2", zo2_bin,
                           "--out", str(tmp_path / "x.csv")], capture_output=True, text=True)
    assert proc.returncode == 2 and "'slots'" in proc.stderr


def test_append_rows_migrates_a_file_from_before_a_policy_column(tmp_path):
    """Rows appended to a file with an older header: the file is rewritten with the new column empty (read as its
    default), its old rows unchanged, then the new rows follow; a foreign header is refused and the file kept."""
    from results_rows import DEFAULTS, append_rows, with_defaults
    old_columns = [c for c in COLUMNS if c not in DEFAULTS]
    path = tmp_path / "old.csv"
    old_row = {c: f"v{i}" for i, c in enumerate(old_columns)}
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=old_columns)
        w.writeheader()
        w.writerow(old_row)
    new_row = {c: f"n{i}" for i, c in enumerate(COLUMNS)}
    append_rows(str(path), [new_row])
    rows = list(csv.DictReader(open(path)))
    assert list(rows[0].keys()) == COLUMNS
    assert {c: rows[0][c] for c in old_columns} == old_row and all(rows[0][c] == "" for c in DEFAULTS)
    assert rows[1] == new_row
    frame = with_defaults(pd.read_csv(path, dtype=str, keep_default_na=False))
    assert list(frame["prefetch_next"]) == ["off", new_row["prefetch_next"]]
    assert list(frame["fold_update"]) == ["off", new_row["fold_update"]]

    foreign = tmp_path / "foreign.csv"
    foreign.write_text("a,b\n1,2\n")
    try:
        append_rows(str(foreign), [new_row])
        raise AssertionError("a foreign header was accepted")
    except SystemExit as e:
        assert "is not the results header" in str(e)
    assert foreign.read_text() == "a,b\n1,2\n"


def test_results_page_is_generated_from_the_committed_rows(tmp_path):
    """docs/RESULTS.md is analysis/report.py's output on experiments/results, never edited by hand: regenerating it
    from the committed rows gives the committed page byte for byte (a row added without regenerating fails here)."""
    out = tmp_path / "RESULTS.md"
    subprocess.run([sys.executable, str(REPO / "analysis" / "report.py"), "--results",
                    str(REPO / "experiments" / "results"), "--profiles", str(REPO / "simulator" / "profiles"),
                    "--out", str(out)],
                   check=True, cwd=REPO, capture_output=True)
    assert out.read_text() == (REPO / "docs" / "RESULTS.md").read_text(), \
        "docs/RESULTS.md is stale: run python3 analysis/report.py"
