"""The simulator as the figures call it: `zo2 simulate`, `zo2 plan` and `zo2 sweep` on the committed profiles."""
import csv
import json
import os
import pathlib
import subprocess
import tempfile

REPO = pathlib.Path(__file__).resolve().parents[1]
# Results columns -> `zo2 simulate` flags (an absent or empty one leaves the simulator's default).
FLAGS = ["layers", "dtype", "offload", "prefetch", "slots", "overlap", "wire", "master", "writeback", "prefetch_next",
         "fold_update", "gpu_mem_budget"]


class Zo2:
    def __init__(self, binary):
        self.binary = str(binary)
        if not os.access(self.binary, os.X_OK):
            raise SystemExit(f"{self.binary}: no zo2 binary here (build it: scripts/build.sh, or pass --zo2)")
        self._cache = {}

    def _run(self, args):
        proc = subprocess.run([self.binary] + args, capture_output=True, text=True, cwd=REPO)
        if proc.returncode != 0:
            raise RuntimeError(f"zo2 {' '.join(args)}: {proc.stderr.strip()}")
        return proc.stdout

    @staticmethod
    def policy_flags(policy):
        out = []
        for key in FLAGS:
            if policy.get(key) not in (None, ""):
                out += ["--" + key.replace("_", "-"), str(policy[key])]
        return out

    def simulate(self, model, profile, policy, trace=None):
        """`zo2 simulate --format json` for one configuration (batch 1, seq 2048), cached."""
        args = ["simulate", "--model", model, "--profile", profile, "--batch", "1", "--seq", "2048", "--format",
                "json"] + self.policy_flags(policy)
        if trace:
            args += ["--trace", str(trace)]
            return json.loads(self._run(args))
        key = tuple(args)
        if key not in self._cache:
            self._cache[key] = json.loads(self._run(args))
        return self._cache[key]

    def parameters(self, model):
        """The model's parameter count: the elements its step's +eps passes perturb (`zo2 plan`)."""
        key = ("plan", model)
        if key not in self._cache:
            plan = json.loads(self._run(["plan", "--model", model, "--offload", "all", "--format", "json"]))
            self._cache[key] = sum(op["elements"] for op in plan["ops"] if op["name"].startswith("zo+/"))
        return self._cache[key]

    def sweep(self, spec):
        """`zo2 sweep SPEC` -> its results rows (dicts)."""
        with tempfile.TemporaryDirectory() as tmp:
            out = pathlib.Path(tmp) / "sweep.csv"
            self._run(["sweep", str(spec), "--out", str(out)])
            with open(out, newline="") as f:
                return list(csv.DictReader(f))
