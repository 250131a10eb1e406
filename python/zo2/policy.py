"""zo2.Policy: the scheduling and precision knobs of a ZO2 step, the same fields as `zo2 train`'s flags."""
from __future__ import annotations

import dataclasses
import json
from typing import Any, Optional, Sequence, Union

from ._native import native

Switch = Union[bool, str]


def _switch(value: Switch) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    return value


def _offload(value: Union[str, Sequence[int]]) -> str:
    if isinstance(value, str):
        return value
    return ",".join(str(int(layer)) for layer in value)


@dataclasses.dataclass
class Policy:
    """Where the blocks live and how a step moves them; each field is the `zo2 train` flag of the same name.

    offload: "all", "none", a list like "0-5,8,10-11", or a sequence of block indices: blocks kept in host memory
        and streamed through the GPU (default "none": every block resident, as `zo2 train`'s default).
    prefetch: blocks uploaded ahead of the one computing (>= 0).
    slots: "reuse" (fixed GPU slots) or "alloc" (allocate per upload).
    overlap: True: copies and compute on their own queues; False: one queue in program order.
    dtype: compute format (fp32, bf16, fp16); None: zo2.load's dtype.
    wire: format on the link (fp32, bf16, fp16, fp8); None: dtype.
    master: host master format (fp32, bf16, fp16); None: dtype.
    writeback: copy a block back every K steps (K >= 1).
    gpu_mem_budget: refuse a plan whose predicted GPU memory exceeds this (bytes, or "40GB", "40GiB"; 0: none).
    prefetch_next: upload the next step's first blocks during this step's tail.
    fold_update: blocks that stay on the GPU apply a step's update in its restore pass.
    host_threads: host threads that apply the master update when wire is below master (0: all of the host's).
    fused_kernels: the rotary families' fused CUDA kernels (RMSNorm, rotary, SwiGLU, joint q|k|v and gate|up GEMMs);
        False: the op-for-op transformers path. No effect on the CPU or for OPT.
    wire_codec: "raw" or "lossless" (offloaded bf16/fp16 blocks entropy-coded on the link; bitwise the raw run).

    Values are checked by the engine (the messages are the CLI's, naming the flag).
    """

    offload: Union[str, Sequence[int]] = "none"
    prefetch: int = 1
    slots: str = "reuse"
    overlap: Switch = True
    dtype: Optional[str] = None
    wire: Optional[str] = None
    master: Optional[str] = None
    writeback: int = 1
    gpu_mem_budget: Union[int, str] = 0
    prefetch_next: Switch = False
    fold_update: Switch = True
    host_threads: int = 0
    fused_kernels: Switch = True
    wire_codec: str = "raw"

    def to_json(self) -> dict[str, Any]:
        """The policy as the JSON fields of `zo2 sweep` specs and results (unset formats left out)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if value is None:
                continue
            if f.name == "offload":
                value = _offload(value)
            elif f.name in ("overlap", "prefetch_next", "fold_update", "fused_kernels"):
                value = _switch(value)
            elif f.name == "gpu_mem_budget":
                value = str(value)
            out[f.name] = value
        return out

    @classmethod
    def from_json(cls, fields: dict[str, Any]) -> "Policy":
        """A Policy from JSON policy fields (as `zo2 simulate --format json` reports them)."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(fields) - known
        if unknown:
            raise ValueError(f"policy: unknown field(s) {sorted(unknown)} (expected {sorted(known)})")
        return cls(**fields)

    def resolved(self, layers: int) -> dict[str, Any]:
        """The policy as the engine resolves it for a model of `layers` blocks (raises ValueError if invalid)."""
        return json.loads(native.resolve_policy(json.dumps(self.to_json()), int(layers)))


def policy_fields() -> list[str]:
    """The knob names the engine knows (its JSON policy fields)."""
    return list(native.policy_fields())
