# zo2 forward against transformers' OPTForCausalLM and LlamaForCausalLM on random small configurations drawn at test
# time.
import numpy as np
import pytest
import torch
from transformers import LlamaForCausalLM

from conftest import (gpu_available, random_llama_config, random_llama_model, random_opt_config, random_opt_model,
                      run_zo2, write_ids)


def save_in_layout(model, out_dir, layout):
    """single: one model.safetensors; sharded: three shards and an index; decoder_keys / base_keys: the base model
    alone (OPTModel's "decoder.*", LlamaModel's bare names), as checkpoints in the wild are."""
    if layout in ("decoder_keys", "base_keys"):
        model.model.save_pretrained(out_dir)
    elif layout == "sharded":
        total = sum(p.numel() * p.element_size() for p in model.parameters())
        model.save_pretrained(out_dir, max_shard_size=max(total // 3, 1))
        assert (out_dir / "model.safetensors.index.json").exists()
    else:
        model.save_pretrained(out_dir)


def rel_error(got, ref):
    return float(np.linalg.norm(got.astype(np.float64) - ref) / np.linalg.norm(ref))


def reference_logits(model, ids):
    with torch.no_grad():
        return model(torch.from_numpy(ids)).logits.double().numpy()


@pytest.mark.parametrize("layout", ["single", "sharded", "decoder_keys"])
def test_fp32_logits_match_transformers(zo2_bin, rng, tmp_path, layout):
    # One of each LN placement, with the 350m-style projection on the post-LN one.
    for overrides in ({"do_layer_norm_before": True}, {"do_layer_norm_before": False, "word_embed_proj_dim": 6}):
        config = random_opt_config(rng, **overrides)
        model = random_opt_model(config, int(rng.integers(1 << 31)))
        out_dir = tmp_path / f"model_{layout}_{overrides['do_layer_norm_before']}"
        save_in_layout(model, out_dir, layout)  # decoder_keys: OPTModel, keys under "decoder."
        ids = rng.integers(0, config.vocab_size, size=(int(rng.integers(1, 4)), int(rng.integers(2, 40))))
        write_ids(tmp_path / "ids.npy", ids)
        run_zo2(zo2_bin, "forward", "--model", out_dir, "--input-ids", tmp_path / "ids.npy", "--out", tmp_path / "logits.npy")
        got = np.load(tmp_path / "logits.npy")
        ref = reference_logits(model, ids)
        assert got.dtype == np.float32 and got.shape == ref.shape
        assert rel_error(got, ref) < 1e-4, f"{layout} {config}"


@pytest.mark.parametrize("dtype,tolerance", [("fp16", 1e-2), ("bf16", 4e-2)])
def test_half_precision_logits_on_gpu(zo2_bin, rng, tmp_path, dtype, tolerance):
    # Against the fp32 reference: fp16 keeps 11 significant bits, bf16 8, through a few layers of rounding.
    if not gpu_available(zo2_bin):
        pytest.skip("no GPU on this machine")
    for overrides in ({"do_layer_norm_before": True}, {"do_layer_norm_before": False, "word_embed_proj_dim": 8}):
        config = random_opt_config(rng, **overrides)
        model = random_opt_model(config, int(rng.integers(1 << 31)))
        model.save_pretrained(tmp_path / "m")
        ids = rng.integers(0, config.vocab_size, size=(2, 32))
        write_ids(tmp_path / "ids.npy", ids)
        run_zo2(zo2_bin, "forward", "--model", tmp_path / "m", "--input-ids", tmp_path / "ids.npy",
                "--out", tmp_path / "logits.npy", "--device", "cuda", "--dtype", dtype)
        err = rel_error(np.load(tmp_path / "logits.npy"), reference_logits(model, ids))
        print(f"{dtype} relative error {err:.2e}")
        assert err < tolerance


def zo2_logits(zo2_bin, model_dir, ids, tmp_path, *flags):
    write_ids(tmp_path / "ids.npy", ids)
    run_zo2(zo2_bin, "forward", "--model", model_dir, "--input-ids", tmp_path / "ids.npy", "--out",
            tmp_path / "logits.npy", *flags)
    return np.load(tmp_path / "logits.npy")


@pytest.mark.parametrize("layout", ["single", "sharded", "base_keys"])
def test_llama_fp32_logits_match_transformers(zo2_bin, rng, tmp_path, layout):
    # Two random configurations per layout; LlamaModel (base_keys: names without "model.") has no lm_head, so it
    # holds a tied model.
    for i in range(2):
        config = random_llama_config(rng, **({"tie_word_embeddings": True} if layout == "base_keys" else {}))
        model = random_llama_model(config, int(rng.integers(1 << 31)))
        out_dir = tmp_path / f"llama_{layout}_{i}"
        save_in_layout(model, out_dir, layout)
        ids = rng.integers(0, config.vocab_size, size=(int(rng.integers(1, 4)), int(rng.integers(1, 40))))
        got = zo2_logits(zo2_bin, out_dir, ids, tmp_path)
        ref = reference_logits(model, ids)
        assert got.dtype == np.float32 and got.shape == ref.shape
        err = rel_error(got, ref)
        print(f"llama {layout} fp32 relative error {err:.2e}")
        assert err < 1e-4, f"{layout} {config}"


@pytest.mark.parametrize("device", ["cpu", "cuda"])
@pytest.mark.parametrize("dtype,torch_dtype", [("bf16", torch.bfloat16), ("fp16", torch.float16)])
def test_llama_half_precision_is_transformers_bitwise(zo2_bin, rng, tmp_path, dtype, torch_dtype, device):
    # The same ATen ops in the same order as LlamaForCausalLM loaded in that dtype (RMSNorm statistics and rotary
    # angles in fp32, rounded where HF rounds), on the same device's kernels: the logits are equal, not merely close
    # (measured on the CPU and on an H200).
    if device == "cuda" and not gpu_available(zo2_bin):
        pytest.skip("no GPU on this machine")
    config = random_llama_config(rng)
    random_llama_model(config, int(rng.integers(1 << 31))).save_pretrained(tmp_path / "m")
    model = LlamaForCausalLM.from_pretrained(tmp_path / "m", dtype=torch_dtype).to(device).eval()
    ids = rng.integers(0, config.vocab_size, size=(2, int(rng.integers(2, 40))))
    got = zo2_logits(zo2_bin, tmp_path / "m", ids, tmp_path, "--dtype", dtype, "--device", device)
    with torch.no_grad():
        ref = model(torch.from_numpy(ids).to(device)).logits.float().cpu().numpy()
    np.testing.assert_array_equal(got, ref, err_msg=f"{dtype} {device} {config}")


@pytest.mark.parametrize("dtype,tolerance", [("fp16", 1e-2), ("bf16", 4e-2)])
def test_llama_half_precision_logits_on_gpu(zo2_bin, rng, tmp_path, dtype, tolerance):
    # Against the fp32 reference, as for OPT: fp16 keeps 11 significant bits, bf16 8.
    if not gpu_available(zo2_bin):
        pytest.skip("no GPU on this machine")
    for _ in range(2):
        config = random_llama_config(rng)
        model = random_llama_model(config, int(rng.integers(1 << 31)))
        model.save_pretrained(tmp_path / "m")
        ids = rng.integers(0, config.vocab_size, size=(2, 32))
        got = zo2_logits(zo2_bin, tmp_path / "m", ids, tmp_path, "--device", "cuda", "--dtype", dtype)
        err = rel_error(got, reference_logits(model, ids))
        print(f"llama {dtype} relative error {err:.2e}")
        assert err < tolerance
