"""Loads the C++ extension _zo2 (built by scripts/build.sh into <build>/python) after torch, whose libraries it uses."""
import os
import sys

import torch.utils.dlpack  # noqa: F401
import torch  # noqa: F401  (loads LibTorch's shared libraries first: the extension links the same ones)

try:
    import _zo2 as native  # noqa: F401
except ImportError as e:  # pragma: no cover - exercised only on a machine without the build
    raise ImportError(
        "zo2: the C++ extension _zo2 is not importable: build it with scripts/build.sh (which puts <build>/python on "
        f"this python's path), or add that folder to PYTHONPATH ({e}); python {sys.executable}, "
        f"PYTHONPATH={os.environ.get('PYTHONPATH', '')}"
    ) from e


def to_engine(tensor: torch.Tensor):
    """A torch tensor as a DLPack capsule the engine takes without a copy."""
    return torch.utils.dlpack.to_dlpack(tensor)


def from_engine(capsule) -> torch.Tensor:
    """A DLPack capsule from the engine as a torch tensor, without a copy."""
    return torch.utils.dlpack.from_dlpack(capsule)
