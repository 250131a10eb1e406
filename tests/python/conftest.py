# Shared fixtures for the checks against transformers: the zo2 binary, random small models of every family saved as
# HF does.
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


def random_llama_config(rng, **overrides):
    """A small LlamaConfig: grouped-query attention some of the time, random rope theta, eps and head tying."""
    from transformers import LlamaConfig

    kv_heads = int(rng.integers(1, 4))
    heads = kv_heads * int(rng.integers(1, 4))  # num_key_value_heads < num_attention_heads two times in three
    # Rotary positions rotate pairs: an even head_dim, with hidden_size in [32, 96].
    head_dim = 2 * int(rng.integers(-(-32 // (2 * heads)), 96 // (2 * heads) + 1))
    cfg = dict(
        vocab_size=int(rng.integers(60, 300)),
        hidden_size=heads * head_dim,
        intermediate_size=int(rng.integers(16, 200)),
        num_hidden_layers=int(rng.integers(2, 4)),
        num_attention_heads=heads,
        num_key_value_heads=kv_heads,
        max_position_embeddings=64,
        rope_theta=float(10 ** rng.uniform(2, 6)),
        rms_norm_eps=float(10 ** rng.uniform(-6, -4)),
        tie_word_embeddings=bool(rng.integers(0, 2)),
    )
    cfg.update(overrides)
    return LlamaConfig(**cfg)


def random_llama_model(config, seed):
    """A LlamaForCausalLM whose every tensor is random (RMSNorm weights near 1), so every path is exercised."""
    from transformers import LlamaForCausalLM

    torch.manual_seed(seed)
    model = LlamaForCausalLM(config).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():  # a tied lm_head is embed_tokens, listed once
            if name.endswith("norm.weight"):
                p.copy_(1.0 + 0.1 * torch.randn_like(p))
            else:
                p.copy_(0.05 * torch.randn_like(p))
    return model


def _rotary_sizes(rng):
    kv_heads = int(rng.integers(1, 4))
    heads = kv_heads * int(rng.integers(1, 4))
    head_dim = 2 * int(rng.integers(2, 9))  # even (rotary pairs); hidden_size need not be heads * head_dim
    hidden = heads * head_dim if rng.integers(0, 2) else 2 * int(rng.integers(8, 33))
    return dict(
        vocab_size=int(rng.integers(60, 300)),
        hidden_size=hidden,
        head_dim=head_dim,
        intermediate_size=int(rng.integers(16, 200)),
        num_hidden_layers=int(rng.integers(2, 4)),
        num_attention_heads=heads,
        num_key_value_heads=kv_heads,
        max_position_embeddings=64,
        rope_parameters={"rope_type": "default", "rope_theta": float(10 ** rng.uniform(2, 6))},
        rms_norm_eps=float(10 ** rng.uniform(-6, -4)),
        tie_word_embeddings=bool(rng.integers(0, 2)),
    )


def random_qwen3_config(rng, **overrides):
    """A small Qwen3Config: q/k norms always; grouped-query attention, a head_dim apart from hidden / heads, attention
    biases and head tying some of the time."""
    from transformers import Qwen3Config

    cfg = _rotary_sizes(rng)
    cfg.update(attention_bias=bool(rng.integers(0, 2)), use_sliding_window=False)
    cfg.update(overrides)
    return Qwen3Config(**cfg)


def random_mistral_config(rng, **overrides):
    """A small MistralConfig: head_dim from the field or from hidden / heads, sliding_window null or at least the
    positions (where it is the causal mask)."""
    from transformers import MistralConfig

    cfg = _rotary_sizes(rng)
    if rng.integers(0, 2):
        cfg["head_dim"] = None
        cfg["hidden_size"] = cfg["num_attention_heads"] * 2 * int(rng.integers(2, 9))
    cfg["sliding_window"] = None if rng.integers(0, 2) else int(rng.integers(64, 100))
    cfg.update(overrides)
    return MistralConfig(**cfg)


def random_rotary_model(model_class, config, seed):
    """A *ForCausalLM of a rotary decoder whose every tensor is random (RMSNorm weights, q/k norms too, near 1)."""
    torch.manual_seed(seed)
    model = model_class(config).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.copy_(1.0 + 0.1 * torch.randn_like(p))
            else:
                p.copy_(0.05 * torch.randn_like(p))
    return model


def random_config_and_model(family, rng, **overrides):
    """(config, model) of a random small model of `family` (opt, llama, qwen3, mistral)."""
    if family in ("qwen3", "mistral"):
        from transformers import MistralForCausalLM, Qwen3ForCausalLM

        config = (random_qwen3_config if family == "qwen3" else random_mistral_config)(rng, **overrides)
        model_class = Qwen3ForCausalLM if family == "qwen3" else MistralForCausalLM
        return config, random_rotary_model(model_class, config, int(rng.integers(1 << 31)))
    if family == "llama":
        config = random_llama_config(rng, **overrides)
        return config, random_llama_model(config, int(rng.integers(1 << 31)))
    config = random_opt_config(rng, **overrides)
    return config, random_opt_model(config, int(rng.integers(1 << 31)))


def write_ids(path, ids):
    np.save(path, np.ascontiguousarray(ids, dtype=np.int64))
    return path


@pytest.fixture(scope="session")
def zo2m():
    """The zo2 Python module of this build (ctest puts it on PYTHONPATH); skipped only where CMake built none."""
    try:
        import zo2
    except ImportError as e:
        if os.environ.get("ZO2_PYTHON_MODULE", "ON").upper() in ("OFF", "0", "FALSE"):
            pytest.skip("this build has no Python module (pybind11 or Python headers missing)")
        pytest.fail(f"import zo2 failed: {e}")
    return zo2


def saved_random_model(family, rng, directory, **overrides):
    """A random small OPT or LLaMA model saved as HF does; returns (config, transformers model)."""
    config, model = random_config_and_model(family, rng, **overrides)
    model.save_pretrained(directory)
    return config, model


# The module's tests run on the CPU everywhere and on the GPU where there is one.
DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(),
                                                                reason="no GPU on this machine"))]
