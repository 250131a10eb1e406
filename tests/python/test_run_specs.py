# analysis/run_specs.py: the engine specs (experiments/specs/engine/*.json) expand into the zo2 runs they declare, run
# through the simulator into results rows, and bad specs are refused naming the file and field.
import csv
import io
import json
import subprocess
import sys

from conftest import REPO

RUNNER = REPO / "analysis" / "run_specs.py"


def run(*args):
    return subprocess.run([sys.executable, str(RUNNER), *map(str, args)], capture_output=True, text=True, cwd=REPO)


def test_every_spec_lists_one_train_command_per_run():
    for spec in sorted((REPO / "experiments" / "specs" / "engine").glob("*.json")):
        declared = json.loads(spec.read_text())
        proc = run(spec.stem, "--list", "--zo2", "zo2", "--results", "r.csv")
        assert proc.returncode == 0, proc.stderr
        lines = proc.stdout.splitlines()
        assert len(lines) == len(declared["runs"]), spec.name
        for line, r in zip(lines, declared["runs"]):
            fields = {**declared.get("common", {}), **r}
            words = line.split()
            assert words[:2] == ["zo2", "train"] and "--results" in words
            for key, value in fields.items():
                flag = "--" + key.replace("_", "-")
                assert words[words.index(flag) + 1] == str(value), (spec.name, key)
            assert words[words.index("--steps") + 1] == str(fields.get("steps", declared.get("steps", 8)))


def test_simulate_writes_the_simulators_rows_for_each_run(zo2_bin, tmp_path):
    out = tmp_path / "sim.csv"
    proc = run("ablation", "--simulate", "--profile", "h200-measured", "--zo2", zo2_bin, "--out", out)
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader(open(out)))
    tps = [r for r in rows if r["metric"] == "tokens_per_second"]
    runs = json.loads((REPO / "experiments" / "specs" / "engine" / "ablation.json").read_text())["runs"]
    assert len(tps) == len(runs)
    for r, spec_run in zip(tps, runs):
        assert r["executor"] == "sim" and r["model"] == "opt-6.7b" and r["offload"] == "all"
        for key, value in spec_run.items():
            assert r[key] == str(value), key
        one = subprocess.run([zo2_bin, "simulate", "--model", "opt-6.7b", "--profile", "h200-measured", "--offload",
                              "all", "--format", "json"] + sum((["--" + k.replace("_", "-"), str(v)]
                                                              for k, v in spec_run.items()), []),
                             capture_output=True, text=True, cwd=REPO)
        assert abs(float(r["value"]) / json.loads(one.stdout)["tokens_per_second"] - 1) < 1e-9  # CSV's 12 digits


def test_bad_specs_are_refused_by_file_and_field(tmp_path):
    cases = {"field": ({"runs": [{"model": "opt-1.3b", "prefech": 1}]}, "runs[0]: field 'prefech': no such field"),
             "model": ({"runs": [{"prefetch": 1}]}, "runs[0]: field 'model': missing"),
             "runs": ({"common": {"model": "opt-1.3b"}}, "field 'runs': expected a non-empty list"),
             "top": ({"runs": [{"model": "x"}], "extra": 1}, "field 'extra': no such field"),
             "value": ({"runs": [{"model": "opt-1.3b", "prefetch": [1, 2]}]}, "field 'prefetch': expected a string")}
    for name, (spec, message) in cases.items():
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(spec))
        proc = run(path, "--list")
        assert proc.returncode == 2, name
        assert str(path) in proc.stderr and message in proc.stderr, (name, proc.stderr)
    proc = run("no-such-spec", "--list")
    assert proc.returncode == 2 and "no such spec" in proc.stderr


def test_reproduce_measure_without_a_gpu_says_so(zo2_bin, tmp_path):
    """`--measure` runs specs with zo2 train on a GPU; on a machine without one it stops before writing anything."""
    env = {**__import__("os").environ, "PATH": str(tmp_path)}  # no nvidia-smi on PATH
    proc = subprocess.run([sys.executable, str(REPO / "analysis" / "reproduce.py"), "--zo2", zo2_bin, "--measure",
                           "ablation", "--results", str(tmp_path / "results"), "--figures", str(tmp_path / "f")],
                          capture_output=True, text=True, cwd=REPO, env=env)
    assert proc.returncode == 2 and "--measure needs a GPU" in proc.stderr, proc.stderr
    assert not (tmp_path / "results").exists() and not (tmp_path / "f").exists()
