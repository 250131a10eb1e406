# zo2 forward against transformers 5.17's Qwen3ForCausalLM and MistralForCausalLM on random small configurations
# drawn at test time, both checkpoint key layouts; the presets' parameter counts against transformers'; Mistral's
# sliding window refused by name where it would cut the sequence.
import json

import numpy as np
import pytest
import torch
from transformers import AutoConfig, AutoModelForCausalLM, MistralConfig, MistralForCausalLM, Qwen3Config, Qwen3ForCausalLM

from conftest import random_config_and_model, run_zo2, write_ids


def rel_error(got, ref):
    return float(np.linalg.norm(got.astype(np.float64) - ref) / np.linalg.norm(ref))


def zo2_logits(zo2_bin, model_dir, ids, tmp_path, *flags):
    write_ids(tmp_path / "ids.npy", ids)
    run_zo2(zo2_bin, "forward", "--model", model_dir, "--input-ids", tmp_path / "ids.npy", "--out",
            tmp_path / "logits.npy", *flags)
    return np.load(tmp_path / "logits.npy")


def save_in_layout(model, out_dir, layout):
    """single: one model.safetensors (keys "model.*", lm_head beside them unless tied); sharded: three shards and an
    index; base_keys: the base model alone (Qwen3Model's / MistralModel's bare names, no lm_head)."""
    if layout == "base_keys":
        model.model.save_pretrained(out_dir)
    elif layout == "sharded":
        total = sum(p.numel() * p.element_size() for p in model.parameters())
        model.save_pretrained(out_dir, max_shard_size=max(total // 3, 1))
        assert (out_dir / "model.safetensors.index.json").exists()
    else:
        model.save_pretrained(out_dir)


@pytest.mark.parametrize("family", ["qwen3", "mistral"])
@pytest.mark.parametrize("layout", ["single", "sharded", "base_keys"])
def test_fp32_logits_match_transformers(zo2_bin, rng, tmp_path, family, layout):
    # Two random configurations per layout; the base model has no lm_head, so it holds a tied model.
    for i in range(2):
        config, model = random_config_and_model(family, rng,
                                                **({"tie_word_embeddings": True} if layout == "base_keys" else {}))
        out_dir = tmp_path / f"{family}_{layout}_{i}"
        save_in_layout(model, out_dir, layout)
        ids = rng.integers(0, config.vocab_size, size=(int(rng.integers(1, 4)), int(rng.integers(1, 40))))
        got = zo2_logits(zo2_bin, out_dir, ids, tmp_path)
        with torch.no_grad():
            ref = model(torch.from_numpy(ids)).logits.double().numpy()
        assert got.dtype == np.float32 and got.shape == ref.shape
        err = rel_error(got, ref)
        print(f"{family} {layout} fp32 relative error {err:.2e}")
        assert err < 1e-4, f"{layout} {config}"


@pytest.mark.parametrize("family", ["qwen3", "mistral"])
@pytest.mark.parametrize("dtype,torch_dtype", [("bf16", torch.bfloat16), ("fp16", torch.float16)])
def test_half_precision_on_cpu_is_transformers_bitwise(zo2_bin, rng, tmp_path, family, dtype, torch_dtype):
    # The LLaMA path's ops in HF's order, q/k norms where Qwen3 has them: equal logits, not merely close.
    config, model = random_config_and_model(family, rng)
    model.save_pretrained(tmp_path / "m")
    half = AutoModelForCausalLM.from_pretrained(tmp_path / "m", dtype=torch_dtype).eval()
    ids = rng.integers(0, config.vocab_size, size=(2, int(rng.integers(2, 40))))
    got = zo2_logits(zo2_bin, tmp_path / "m", ids, tmp_path, "--dtype", dtype)
    with torch.no_grad():
        ref = half(torch.from_numpy(ids)).logits.float().numpy()
    np.testing.assert_array_equal(got, ref, err_msg=f"{family} {dtype} {config}")


def test_mistral_sliding_window_shorter_than_the_sequence_is_refused(zo2_bin, rng, tmp_path):
    window = int(rng.integers(2, 10))
    config, model = random_config_and_model("mistral", rng, sliding_window=window)
    model.save_pretrained(tmp_path / "m")
    write_ids(tmp_path / "ids.npy", rng.integers(0, config.vocab_size, size=(1, window)))
    run_zo2(zo2_bin, "forward", "--model", tmp_path / "m", "--input-ids", tmp_path / "ids.npy",
            "--out", tmp_path / "ok.npy")  # the window holds the whole sequence: full causal attention
    write_ids(tmp_path / "ids.npy", rng.integers(0, config.vocab_size, size=(1, window + 1)))
    proc = run_zo2(zo2_bin, "forward", "--model", tmp_path / "m", "--input-ids", tmp_path / "ids.npy",
                   "--out", tmp_path / "bad.npy", check=False)
    assert proc.returncode == 2, proc.stderr
    assert "sliding_window" in proc.stderr and str(window + 1) in proc.stderr, proc.stderr


# The published config.json values of each preset (Qwen/Qwen3-*, mistralai/Mistral-7B-v0.1 and -v0.3).
QWEN3 = dict(vocab_size=151936, head_dim=128, num_key_value_heads=8, rms_norm_eps=1e-6, max_position_embeddings=40960,
             rope_parameters={"rope_type": "default", "rope_theta": 1000000.0}, attention_bias=False)
PUBLISHED = {
    "qwen3-0.6b": (Qwen3Config, Qwen3ForCausalLM, dict(QWEN3, hidden_size=1024, num_hidden_layers=28,
                   num_attention_heads=16, intermediate_size=3072, tie_word_embeddings=True)),
    "qwen3-1.7b": (Qwen3Config, Qwen3ForCausalLM, dict(QWEN3, hidden_size=2048, num_hidden_layers=28,
                   num_attention_heads=16, intermediate_size=6144, tie_word_embeddings=True)),
    "qwen3-4b": (Qwen3Config, Qwen3ForCausalLM, dict(QWEN3, hidden_size=2560, num_hidden_layers=36,
                 num_attention_heads=32, intermediate_size=9728, tie_word_embeddings=True)),
    "qwen3-8b": (Qwen3Config, Qwen3ForCausalLM, dict(QWEN3, hidden_size=4096, num_hidden_layers=36,
                 num_attention_heads=32, intermediate_size=12288, tie_word_embeddings=False)),
    "qwen3-14b": (Qwen3Config, Qwen3ForCausalLM, dict(QWEN3, hidden_size=5120, num_hidden_layers=40,
                  num_attention_heads=40, intermediate_size=17408, tie_word_embeddings=False)),
    "qwen3-32b": (Qwen3Config, Qwen3ForCausalLM, dict(QWEN3, hidden_size=5120, num_hidden_layers=64,
                  num_attention_heads=64, intermediate_size=25600, tie_word_embeddings=False)),
    "mistral-7b-v0.1": (MistralConfig, MistralForCausalLM, dict(vocab_size=32000, hidden_size=4096,
                        intermediate_size=14336, num_hidden_layers=32, num_attention_heads=32, num_key_value_heads=8,
                        max_position_embeddings=32768, rms_norm_eps=1e-5, sliding_window=4096,
                        rope_parameters={"rope_type": "default", "rope_theta": 10000.0}, tie_word_embeddings=False)),
    "mistral-7b-v0.3": (MistralConfig, MistralForCausalLM, dict(vocab_size=32768, hidden_size=4096,
                        intermediate_size=14336, num_hidden_layers=32, num_attention_heads=32, num_key_value_heads=8,
                        max_position_embeddings=32768, rms_norm_eps=1e-5, sliding_window=None,
                        rope_parameters={"rope_type": "default", "rope_theta": 1000000.0}, tie_word_embeddings=False)),
}


def parameter_count(model_class, config):
    with torch.device("meta"):  # shapes only, no memory
        return sum(p.numel() for p in model_class(config).parameters())  # a tied head is listed once


@pytest.mark.parametrize("preset", sorted(PUBLISHED))
def test_preset_matches_the_published_config_and_its_parameter_count(zo2_bin, tmp_path, preset):
    config_class, model_class, values = PUBLISHED[preset]
    want = parameter_count(model_class, config_class(**values))
    run_zo2(zo2_bin, "plan", "--model", preset, "--seq", 128, "--format", "json", "--out", tmp_path / "plan.json")
    written = json.loads((tmp_path / "plan.json").read_text())["model"]  # the preset's config.json as zo2 writes it
    for field, value in values.items():
        if field != "rope_parameters":
            assert written.get(field) == value, f"{preset}: {field} {written.get(field)} != {value}"
    assert written["rope_parameters"]["rope_theta"] == values["rope_parameters"]["rope_theta"]
    written.pop("torch_dtype")  # the plan names its compute dtype the zo2 way ("fp16"), which is no torch dtype
    got = parameter_count(model_class, AutoConfig.for_model(**written))
    print(f"{preset}: {got} parameters (transformers on the published config: {want})")
    assert got == want
