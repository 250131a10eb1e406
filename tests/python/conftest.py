# Shared fixtures for the checks against transformers: the zo2 binary, random small OPT models saved as HF does.
import os
import pathlib
import subprocess

import numpy as np
import pytest
import torch

REPO = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def zo2_bin():
    path = pathlib.Path(os.environ.get("ZO2_BIN", REPO / "build" / "zo2"))
    if not path.exists():
        pytest.fail(f"zo2 binary not found at {path} (build first, or set ZO2_BIN)")
    return str(path)


@pytest.fixture
def rng():
    seed = int.from_bytes(os.urandom(4), "little")
    print(f"seed {seed}")
    return np.random.default_rng(seed)


def gpu_available(zo2):
    """A GPU that both torch and this zo2 build can use."""
    if not torch.cuda.is_available():
        return False
    out = subprocess.run([zo2, "train", "--help"], capture_output=True, text=True)
    return out.returncode == 0


def run_zo2(zo2, *args, check=True):
    proc = subprocess.run([zo2, *map(str, args)], capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"zo2 {' '.join(map(str, args))} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def random_opt_config(rng, **overrides):
    from transformers import OPTConfig

    heads = int(rng.integers(1, 5))
    hidden = heads * int(rng.integers(4, 10))
    cfg = dict(
        vocab_size=int(rng.integers(60, 300)),
        hidden_size=hidden,
        num_hidden_layers=int(rng.integers(1, 4)),
        ffn_dim=int(rng.integers(8, 64)),
        num_attention_heads=heads,
        max_position_embeddings=64,
        word_embed_proj_dim=hidden if rng.integers(0, 2) else int(rng.integers(4, 16)),
        do_layer_norm_before=bool(rng.integers(0, 2)),
        dropout=0.0,
        attention_dropout=0.0,
    )
    cfg.update(overrides)
    return OPTConfig(**cfg)


def random_opt_model(config, seed):
    """An OPTForCausalLM whose every tensor (biases and norms too) is random, so every path is exercised."""
    from transformers import OPTForCausalLM

    torch.manual_seed(seed)
    model = OPTForCausalLM(config).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "layer_norm" in name and name.endswith("weight"):
                p.copy_(1.0 + 0.1 * torch.randn_like(p))
            else:
                p.copy_(0.05 * torch.randn_like(p))
    return model


def write_ids(path, ids):
    np.save(path, np.ascontiguousarray(ids, dtype=np.int64))
    return path
