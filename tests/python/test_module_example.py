# examples/mezo_loop.py runs as the README says, and what it saves is what it trained (transformers loads it, and
# its logits are the module's).
import subprocess
import sys

import torch
from transformers import AutoModelForCausalLM

from conftest import REPO, saved_random_model


def test_example_loop_trains_and_saves(zo2m, rng, tmp_path):
    config, _ = saved_random_model("opt", rng, tmp_path / "m")
    proc = subprocess.run([sys.executable, str(REPO / "examples" / "mezo_loop.py"), "--model", str(tmp_path / "m"),
                           "--steps", "3", "--batch", "2", "--lr", "1e-3", "--offload", "all", "--writeback", "2",
                           "--out", str(tmp_path / "out")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert [l.split("|")[0].strip() for l in lines[:3]] == ["step    0", "step    1", "step    2"], proc.stdout
    assert "held-out mean log-likelihood" in lines[3]
    saved = AutoModelForCausalLM.from_pretrained(tmp_path / "out").eval()
    ids = torch.from_numpy(rng.integers(0, config.vocab_size, size=(1, 9)))
    with torch.no_grad():
        want = saved(ids).logits
    got = zo2m.load(tmp_path / "out").logits(ids)
    assert torch.allclose(got, want, rtol=1e-4, atol=1e-5)
