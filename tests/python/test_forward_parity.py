# zo2 forward against transformers' OPTForCausalLM on random small configurations drawn at test time.
import numpy as np
import pytest
import torch

from conftest import gpu_available, random_opt_config, random_opt_model, run_zo2, write_ids


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
        if layout == "decoder_keys":
            model.model.save_pretrained(out_dir)  # OPTModel: keys under "decoder."
        elif layout == "sharded":
            total = sum(p.numel() * p.element_size() for p in model.parameters())
            model.save_pretrained(out_dir, max_shard_size=max(total // 3, 1))
            assert (out_dir / "model.safetensors.index.json").exists()
        else:
            model.save_pretrained(out_dir)
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
