#!/usr/bin/env python3
"""Seed corpora for the fuzz targets, written by the libraries users' files come from: safetensors (numpy and torch),
transformers (save_pretrained, sharded too, and config.json), numpy.save, the committed profiles and sweep specs, and
`zo2 plan --format json`. One folder per target under --out; generated at run time, not committed."""
import argparse
import json
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import torch
import transformers
from safetensors.numpy import save_file as np_save_file
from safetensors.torch import save_file as torch_save_file

ROOT = Path(__file__).resolve().parent.parent


def tiny_opt(**kw):
    base = dict(vocab_size=64, hidden_size=16, num_hidden_layers=2, ffn_dim=32, num_attention_heads=2,
                max_position_embeddings=32, word_embed_proj_dim=16)
    base.update(kw)
    return transformers.OPTConfig(**base)


def tiny_llama(**kw):
    base = dict(vocab_size=64, hidden_size=16, num_hidden_layers=2, intermediate_size=32, num_attention_heads=4,
                num_key_value_heads=2, max_position_embeddings=32)
    base.update(kw)
    return transformers.LlamaConfig(**base)


def configs():
    return {
        "opt_default": transformers.OPTConfig(),
        "opt_tiny": tiny_opt(),
        "opt_350m_like": tiny_opt(word_embed_proj_dim=8, do_layer_norm_before=False),
        "opt_no_bias": tiny_opt(enable_bias=False, activation_function="gelu"),
        "llama_default": transformers.LlamaConfig(),
        "llama_tiny": tiny_llama(),
        "llama_tied": tiny_llama(tie_word_embeddings=True, num_key_value_heads=4),
        "llama_scaled": tiny_llama(rope_scaling={"rope_type": "linear", "factor": 2.0}),
    }


def safetensors_seeds(out: Path):
    rng = np.random.default_rng(0)
    np_save_file({"a": rng.standard_normal((2, 3)).astype(np.float32), "b": np.arange(4, dtype=np.int64)},
                 str(out / "numpy_f32_i64.safetensors"), metadata={"format": "pt"})
    np_save_file({"s": np.array(1.5, dtype=np.float64), "e": np.zeros((0, 4), np.float16),
                  "m": np.array([True, False]), "u": np.arange(3, dtype=np.uint8)}, str(out / "numpy_mixed.safetensors"))
    torch_save_file({"w": torch.randn(3, 2, dtype=torch.bfloat16), "h": torch.randn(5, dtype=torch.float16),
                     "i": torch.arange(3, dtype=torch.int32)}, str(out / "torch_bf16_f16.safetensors"),
                    metadata={"format": "pt"})
    torch_save_file({}, str(out / "torch_empty.safetensors"))


def model_seeds(tmp: Path, st_out: Path, index_out: Path):
    """save_pretrained of tiny OPT and LLaMA models, whole and sharded as transformers shards them."""
    torch.manual_seed(0)
    for name, cfg in (("opt", tiny_opt()), ("llama", tiny_llama())):
        model = transformers.AutoModelForCausalLM.from_config(cfg)
        whole = tmp / f"{name}_whole"
        model.save_pretrained(whole)
        shutil.copy(whole / "model.safetensors", st_out / f"hf_{name}.safetensors")
        sharded = tmp / f"{name}_sharded"
        model.save_pretrained(sharded, max_shard_size="4KB")
        shutil.copy(sharded / "model.safetensors.index.json", index_out / f"hf_{name}.index.json")
        for shard in sorted(sharded.glob("model-*.safetensors"))[:2]:
            shutil.copy(shard, st_out / f"hf_{name}_{shard.name}")
    # Indexes naming the shards the fuzz target keeps beside its index (fuzz_safetensors_index.cc), written the way
    # transformers writes one, so the fuzzer starts from inputs that open.
    weight_map = {"lm_head.weight": "model-00002-of-00002.safetensors",
                  "model.decoder.embed_tokens.weight": "model-00001-of-00002.safetensors",
                  "model.decoder.layers.0.fc1.weight": "model-00001-of-00002.safetensors"}
    (index_out / "fuzz_shards.index.json").write_text(
        json.dumps({"metadata": {"total_size": 28}, "weight_map": weight_map}, indent=2, sort_keys=True) + "\n")
    (index_out / "fuzz_one_shard.index.json").write_text(
        json.dumps({"metadata": {"total_size": 8},
                    "weight_map": {"model.decoder.embed_tokens.weight": "model-00001-of-00002.safetensors"}}))


def npy_seeds(tmp: Path, out: Path):
    rng = np.random.default_rng(0)
    arrays = {
        "f4_2x3": rng.standard_normal((2, 3)).astype(np.float32), "f8_1d": rng.standard_normal(5),
        "i8_tokens": rng.integers(0, 50000, (2, 8)), "i4_3d": np.arange(24, dtype=np.int32).reshape(2, 3, 4),
        "u1": np.arange(7, dtype=np.uint8), "b1": np.array([True, False, True]), "f2_0d": np.array(1.0, np.float16),
        "empty": np.zeros((0, 3), np.float32), "c8": np.ones(2, np.complex64), "U5": np.array(["ab", "cde"]),
        "M8": np.array(["2026-01-01"], dtype="datetime64[ns]"), "fortran": np.asfortranarray(np.ones((2, 3), np.float32)),
        "big_endian": np.arange(3, dtype=">i4"), "structured": np.zeros(2, dtype=[("a", "<f4"), ("b", "<i8")]),
    }
    for name, a in arrays.items():
        np.save(out / f"{name}.npy", a)
    for version in ((2, 0), (3, 0)):
        with open(out / f"v{version[0]}.npy", "wb") as f:
            np.lib.format.write_array(f, np.arange(6, dtype=np.int64).reshape(2, 3), version=version)


def plan_seeds(zo2: Path, tmp: Path, out: Path):
    models = {}
    for name in ("opt_tiny", "llama_tiny"):
        d = tmp / f"cfg_{name}"
        d.mkdir()
        (d / "config.json").write_text(configs()[name].to_json_string())
        models[name] = d
    variants = {
        "resident": [],
        "offload": ["--offload", "all", "--prefetch", "1"],
        "writeback2": ["--offload", "all", "--writeback", "2", "--step", "1"],
        "alloc": ["--offload", "1", "--slots", "alloc", "--overlap", "off"],
        "next": ["--offload", "all", "--prefetch-next", "on", "--step", "1"],
    }
    for model, d in models.items():
        for variant, flags in variants.items():
            target = out / f"{model}_{variant}.json"
            subprocess.run([str(zo2), "plan", "--model", str(d), "--batch", "1", "--seq", "8", "--format", "json",
                            "--out", str(target), *flags], check=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--zo2", type=Path, required=True, help="the zo2 binary (writes the plan seeds)")
    a = ap.parse_args()
    dirs = {t: a.out / t for t in ("fuzz_safetensors", "fuzz_safetensors_index", "fuzz_npy", "fuzz_hf_config",
                                   "fuzz_profile", "fuzz_sweep_spec", "fuzz_plan_json")}
    shutil.rmtree(a.out, ignore_errors=True)
    for d in dirs.values():
        d.mkdir(parents=True)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        safetensors_seeds(dirs["fuzz_safetensors"])
        model_seeds(tmp, dirs["fuzz_safetensors"], dirs["fuzz_safetensors_index"])
        npy_seeds(tmp, dirs["fuzz_npy"])
        for name, cfg in configs().items():
            (dirs["fuzz_hf_config"] / f"{name}.json").write_text(cfg.to_json_string())
        for p in sorted((ROOT / "simulator/profiles").glob("*.json")):
            shutil.copy(p, dirs["fuzz_profile"] / p.name)
        for p in sorted((ROOT / "experiments/specs").glob("*.json")):
            shutil.copy(p, dirs["fuzz_sweep_spec"] / p.name)
        # A policy grid as simulator/README.md describes it, beside the committed search spec.
        (dirs["fuzz_sweep_spec"] / "grid.json").write_text(json.dumps(
            {"models": ["opt-125m", "opt-1.3b"], "profiles": ["h100-targets"], "batch": [1, 4], "seq": 2048,
             "pageable": False, "policies": [{"offload": ["all", "none"], "prefetch": [0, 1], "writeback": 2},
                                             {"offload": "0-5", "slots": "alloc", "dtype": "fp32", "wire": "fp16"}]}))
        plan_seeds(a.zo2, tmp, dirs["fuzz_plan_json"])
    for t, d in dirs.items():
        files = list(d.iterdir())
        print(f"seeds {t}: {len(files)} files, {sum(f.stat().st_size for f in files)} bytes")


if __name__ == "__main__":
    main()
