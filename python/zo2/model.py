"""zo2.load and zo2.Model: an OPT or LLaMA model held by the C++ engine (flat slabs, blocks resident or offloaded)."""
from __future__ import annotations

import json
import os
from typing import Any, Optional, Sequence, Union

import torch

from ._native import from_engine, native, to_engine
from .policy import Policy

TensorLike = Union[torch.Tensor, Sequence[Sequence[int]]]


def as_ids(input_ids: TensorLike) -> torch.Tensor:
    """Token ids as a torch tensor: tensors pass unchanged (the engine checks dtype and shape), lists become int64."""
    if isinstance(input_ids, torch.Tensor):
        return input_ids
    return torch.as_tensor(input_ids, dtype=torch.long)


def as_mask(mask: Any) -> torch.Tensor:
    if isinstance(mask, torch.Tensor):
        return mask
    return torch.as_tensor(mask)


class Model:
    """A model in the engine. Made by zo2.load; stepped by zo2.MeZO; read by logits, token_logprobs, score, save.

    Reading the model (a forward, a save) first applies the pending update of the optimizer stepping it, so what is
    read is always the trained model (this is bitwise neutral: the next step continues exactly as without it).
    """

    def __init__(self, session: Any):
        self._session = session
        self._info = dict(session.info())

    # ---- what it is -------------------------------------------------------------------------------------------
    @property
    def source(self) -> str:
        """The preset name or directory it was loaded from."""
        return self._info["source"]

    @property
    def family(self) -> str:
        """"opt" or "llama"."""
        return self._info["family"]

    @property
    def vocab_size(self) -> int:
        return int(self._info["vocab_size"])

    @property
    def layers(self) -> int:
        return int(self._info["layers"])

    @property
    def hidden_size(self) -> int:
        return int(self._info["hidden"])

    @property
    def max_positions(self) -> int:
        return int(self._info["max_positions"])

    @property
    def num_parameters(self) -> int:
        return int(self._info["parameters"])

    @property
    def device(self) -> torch.device:
        return torch.device(self._info["device"])

    @property
    def dtype(self) -> torch.dtype:
        return {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[self._info["dtype"]]

    @property
    def policy(self) -> Policy:
        """The policy as the engine resolved it (every field explicit)."""
        return Policy.from_json(json.loads(self._info["policy"]))

    def __repr__(self) -> str:
        return (f"zo2.Model({self.source!r}, family={self.family}, layers={self.layers}, "
                f"parameters={self.num_parameters}, device={self._info['device']}, dtype={self._info['dtype']}, "
                f"offload={self.policy.offload!r})")

    # ---- reading it -------------------------------------------------------------------------------------------
    def logits(self, input_ids: TensorLike) -> torch.Tensor:
        """Logits of `input_ids` (int64 [B, T]): float32 [B, T, vocab] on the model's device.

        The forward is the one `zo2 forward` and the training steps run (offloaded blocks are streamed through the
        GPU). Raises ValueError for ids of another dtype or shape, or outside [0, vocab)."""
        return from_engine(self._session.logits(to_engine(as_ids(input_ids))))

    def token_logprobs(self, input_ids: TensorLike) -> torch.Tensor:
        """log p(token t | tokens < t) for every position: float32 [B, T] on the model's device; position 0 is 0.

        Computed by the training loss's own per-token cross-entropy (one pass over the logits on the GPU)."""
        return from_engine(self._session.token_logprobs(to_engine(as_ids(input_ids))))

    def score(self, input_ids: TensorLike, mask: Any, reduction: str = "mean") -> torch.Tensor:
        """Per-example log-likelihood of the tokens `mask` marks (by their own position, as loss_mask does).

        reduction "mean": the average log-probability per marked token (MeZO's candidate scoring); "sum": the total.
        Returns float32 [B] on the model's device. Raises ValueError for a mask of another shape or a row with no
        marked token past position 0."""
        ids = as_ids(input_ids)
        m = as_mask(mask)
        if tuple(m.shape) != tuple(ids.shape):
            raise ValueError(f"mask: shape {list(m.shape)} differs from input_ids' {list(ids.shape)}")
        if reduction not in ("mean", "sum"):
            raise ValueError(f"reduction '{reduction}': expected mean or sum")
        lp = self.token_logprobs(ids)
        m = m.to(device=lp.device, dtype=torch.bool).clone()
        m[:, 0] = False
        counts = m.sum(dim=1)
        if bool((counts == 0).any()):
            rows = torch.nonzero(counts == 0).flatten().tolist()
            raise ValueError(f"mask: row(s) {rows} mark no token past position 0")
        total = torch.where(m, lp, torch.zeros((), dtype=lp.dtype, device=lp.device)).sum(dim=1)
        return total / counts.to(lp.dtype) if reduction == "mean" else total

    def predicted_gpu_bytes(self, batch: int, seq: int) -> int:
        """GPU memory the plan of a (batch, seq) step predicts under this model's policy (what gpu_mem_budget is
        checked against)."""
        return int(self._session.predicted_gpu_bytes(int(batch), int(seq)))

    # ---- writing it -------------------------------------------------------------------------------------------
    def save(self, directory: Union[str, os.PathLike]) -> None:
        """Writes a HuggingFace directory (config.json, model.safetensors) that transformers' from_pretrained loads,
        atomically (as `zo2 train --save`). The optimizer's pending update is applied first."""
        self._session.save(os.fspath(directory))

    def flush(self) -> None:
        """Applies the pending update of the optimizer stepping this model (zo2.MeZO.flush)."""
        self._session.settle()


def load(model: Union[str, os.PathLike], device: str = "cpu", dtype: str = "fp32", policy: Optional[Policy] = None,
         seed: int = 0, layers: int = 0) -> Model:
    """Loads a model into the engine.

    model: a preset ("opt-125m" ... "opt-175b", "llama-2-7b", ...: random init as HuggingFace initialises, drawn from
        `seed`) or a HuggingFace OPT or LLaMA directory (config.json + safetensors).
    device: "cpu", "cuda" or "cuda:N".
    dtype: compute format "fp32", "bf16" or "fp16" (the weights are converted on load).
    policy: zo2.Policy (offload, prefetch, writeback, ...); default: every block resident.
    layers: > 0 keeps only the first N blocks of a preset.

    The policy's memory plan is checked against its gpu_mem_budget before any weight is allocated. Errors are the
    CLI's (ValueError for a bad value: unknown preset, bad policy field, over the budget; RuntimeError for a file
    that cannot be read), and the process stays usable.

    Example:
        model = zo2.load("opt-125m", device="cuda", dtype="fp16", policy=zo2.Policy(offload="all", prefetch=2))
    """
    policy = policy if policy is not None else Policy()
    if not isinstance(policy, Policy):
        raise ValueError(f"policy: expected a zo2.Policy, got {type(policy).__name__}")
    session = native.load_model(os.fspath(model), str(device), str(dtype), json.dumps(policy.to_json()), int(seed),
                                int(layers))
    return Model(session)
