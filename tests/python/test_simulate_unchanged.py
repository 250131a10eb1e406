# zo2 simulate on the committed profiles gives the numbers the binary built before the model family registry gave
# (tests/python/data/simulate_before_families.json, computed at 26259b8): OPT and LLaMA records without a "family"
# are still found, and the per-family plan terms equal the ones plan.cc hard-coded.
import json
import pathlib

from conftest import run_zo2

CASES = json.loads((pathlib.Path(__file__).parent / "data" / "simulate_before_families.json").read_text())["cases"]


def test_simulate_numbers_are_unchanged(zo2_bin):
    assert len(CASES) > 100
    for case in CASES:
        out = json.loads(run_zo2(zo2_bin, "simulate", *case["args"], "--format", "json").stdout)
        for field in ("step_seconds", "peak_gpu_bytes", "peak_host_bytes", "tokens_per_second"):
            assert out[field] == case[field], f"{' '.join(case['args'])}: {field} {out[field]} != {case[field]}"
