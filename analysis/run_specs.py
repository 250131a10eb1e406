#!/usr/bin/env python3
"""The engine's experiment grids (experiments/specs/engine/NAME.json), run by `zo2 train` on a GPU (--measure, results
rows) or by `zo2 simulate` on a hardware profile (--simulate, the same runs in virtual time).

  python3 analysis/run_specs.py ablation --measure --zo2 build-gpu/zo2 --results out/results.csv
  python3 analysis/run_specs.py ablation --simulate --profile h200-measured --out sim.csv
  python3 analysis/run_specs.py --all --list

A spec is {"name", "about", "steps" (optional, default 8), "common": {flags}, "runs": [{flags}, ...]}: each run is
`common` overlaid by the run's own fields. Fields are `model`, `steps`, `layers` and the policy flags (`dtype`,
`offload`, `prefetch`, `slots`, `overlap`, `wire`, `master`, `writeback`, `prefetch_next`, `fold_update`,
`gpu_mem_budget`), written as `zo2 train`'s flags (`prefetch_next` -> `--prefetch-next`). Every measured run is batch 1,
sequence 2048, random init, lr 1e-7, eps 1e-3, seed 1 (the peer's benchmark workload); dtype fp16 unless the run says.
"""
import argparse
import csv
import io
import json
import os
import pathlib
import subprocess
import sys

REPO = pathlib.Path(__file__).resolve().parents[1]
SPEC_DIR = REPO / "experiments" / "specs" / "engine"
SPEC_FIELDS = {"name", "about", "steps", "common", "runs"}
POLICY_FIELDS = ["dtype", "offload", "prefetch", "slots", "overlap", "wire", "master", "writeback", "prefetch_next",
                 "fold_update", "gpu_mem_budget"]
RUN_FIELDS = {"model", "steps", "layers", *POLICY_FIELDS}
WORKLOAD = ["--batch", "1", "--seq", "2048"]
TRAIN = ["--device", "cuda", "--lr", "1e-7", "--eps", "1e-3", "--seed", "1"]


class SpecError(Exception):
    pass


def spec_path(name):
    """A spec name (ablation) or a path to a spec file."""
    p = pathlib.Path(name)
    if p.suffix == ".json" or p.exists():
        return p
    return SPEC_DIR / f"{name}.json"


def all_specs():
    return sorted(p.stem for p in SPEC_DIR.glob("*.json"))


def load(name):
    """The spec's runs, each a dict of fields (common overlaid by the run), checked field by field."""
    path = spec_path(name)
    if not path.exists():
        raise SpecError(f"{path}: no such spec (the specs are {', '.join(all_specs())})")
    try:
        spec = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise SpecError(f"{path}: not JSON: {e}")
    if not isinstance(spec, dict):
        raise SpecError(f"{path}: expected a JSON object (an engine spec)")
    for key in spec:
        if key not in SPEC_FIELDS:
            raise SpecError(f"{path}: field '{key}': no such field (expected {', '.join(sorted(SPEC_FIELDS))})")
    if not isinstance(spec.get("runs"), list) or not spec["runs"]:
        raise SpecError(f"{path}: field 'runs': expected a non-empty list of objects")
    common = spec.get("common", {})
    if not isinstance(common, dict):
        raise SpecError(f"{path}: field 'common': expected an object of run fields")
    runs = []
    for i, run in enumerate(spec["runs"]):
        if not isinstance(run, dict):
            raise SpecError(f"{path}: runs[{i}]: expected an object of run fields")
        merged = {"steps": spec.get("steps", 8), **common, **run}
        for key, value in merged.items():
            if key not in RUN_FIELDS:
                raise SpecError(f"{path}: runs[{i}]: field '{key}': no such field (expected "
                                f"{', '.join(sorted(RUN_FIELDS))})")
            if not isinstance(value, (str, int)) or isinstance(value, bool):
                raise SpecError(f"{path}: runs[{i}]: field '{key}': expected a string or an integer, got "
                                f"{json.dumps(value)}")
        if "model" not in merged:
            raise SpecError(f"{path}: runs[{i}]: field 'model': missing (in the run or in 'common')")
        merged.setdefault("dtype", "fp16")
        runs.append(merged)
    return spec.get("name", path.stem), runs


def flags(run, fields):
    out = []
    for key in fields:
        if key in run:
            out += ["--" + key.replace("_", "-"), str(run[key])]
    return out


def train_command(zo2, run, results):
    return ([zo2, "train", "--model", run["model"], "--steps", str(run["steps"])] + WORKLOAD + TRAIN
            + flags(run, ["layers"] + POLICY_FIELDS) + ["--results", results])


def simulate_command(zo2, run, profile, fmt):
    return ([zo2, "simulate", "--model", run["model"], "--profile", profile] + WORKLOAD
            + flags(run, ["layers"] + POLICY_FIELDS) + ["--format", fmt])


def simulate(zo2, run, profile):
    """The simulator's JSON for one run (step time, memory, the policy as it resolved its defaults)."""
    proc = subprocess.run(simulate_command(zo2, run, profile, "json"), capture_output=True, text=True)
    if proc.returncode != 0:
        raise SpecError(f"zo2 simulate failed for {describe(run)}: {proc.stderr.strip()}")
    return json.loads(proc.stdout)


def describe(run):
    return " ".join(f"{k}={v}" for k, v in run.items())


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("specs", nargs="*", help=f"spec names ({', '.join(all_specs())}) or files")
    ap.add_argument("--all", action="store_true", help="every spec under experiments/specs/engine")
    what = ap.add_mutually_exclusive_group(required=True)
    what.add_argument("--measure", action="store_true", help="run zo2 train on the GPU, appending rows to --results")
    what.add_argument("--simulate", action="store_true", help="run zo2 simulate on --profile, rows to --out")
    what.add_argument("--list", action="store_true", help="print the zo2 train commands")
    ap.add_argument("--zo2", default=os.environ.get("ZO2_BIN", str(REPO / "build" / "zo2")))
    ap.add_argument("--results", default="results.csv", help="--measure: the results CSV zo2 train appends to")
    ap.add_argument("--log", help="--measure: append every run's output to this file")
    ap.add_argument("--profile", help="--simulate: a hardware profile name or file")
    ap.add_argument("--out", help="--simulate: the results CSV to write (default: standard output)")
    a = ap.parse_args()
    names = all_specs() if a.all else a.specs
    if not names:
        ap.error("name at least one spec, or --all")
    if a.simulate and not a.profile:
        ap.error("--simulate needs --profile")
    try:
        specs = [load(n) for n in names]
    except SpecError as e:
        print(f"run_specs: error: {e}", file=sys.stderr)
        return 2
    failed = 0
    sim_rows, header = [], None
    for name, runs in specs:
        for run in runs:
            if a.list:
                print(" ".join(train_command(a.zo2, run, a.results)))
                continue
            if a.simulate:
                proc = subprocess.run(simulate_command(a.zo2, run, a.profile, "csv"), capture_output=True, text=True)
                if proc.returncode != 0:
                    print(f"run_specs: {name}: zo2 simulate failed for {describe(run)}: {proc.stderr.strip()}",
                          file=sys.stderr)
                    failed += 1
                    continue
                reader = csv.reader(io.StringIO(proc.stdout))
                header = next(reader)
                sim_rows += list(reader)
                continue
            proc = subprocess.run(train_command(a.zo2, run, a.results), capture_output=True, text=True)
            if a.log:
                with open(a.log, "a") as f:
                    f.write(proc.stdout + proc.stderr)
            last = ((proc.stdout + proc.stderr).strip().splitlines() or [""])[-1]
            print(f"{name} {describe(run)}: rc={proc.returncode} {last}", flush=True)
            failed += proc.returncode != 0
    if a.simulate and header:
        out = open(a.out, "w", newline="") if a.out else sys.stdout
        w = csv.writer(out)
        w.writerow(header)
        w.writerows(sim_rows)
        if a.out:
            out.close()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
