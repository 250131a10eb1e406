"""zo2: zeroth-order (MeZO) fine-tuning of OPT and LLaMA models with blocks streamed from host memory (ZO2), over the
project's C++ engine, and its simulator.

    import zo2
    model = zo2.load("opt-1.3b", device="cuda", dtype="fp16", policy=zo2.Policy(offload="all", prefetch=2, writeback=4))
    opt = zo2.MeZO(model, lr=1e-6, eps=1e-3)
    for batch in batches:
        r = opt.step(batch["input_ids"], loss_mask=batch.get("loss_mask"))   # r.loss, r.projected_grad
    model.save("out-dir")                                                   # a HuggingFace directory
    zo2.simulate(model="opt-175b", profile="h200-measured", prefetch=2)     # dict, as `zo2 simulate --format json`

The module and the `zo2` command run the same library: the same steps, forwards, checks and error messages.
"""
from ._native import native as _native
from .mezo import MeZO, StepResult, TokenBatches, replay
from .model import Model, load
from .policy import Policy, policy_fields
from .simulate import simulate

has_cuda: bool = bool(_native.has_cuda)
"""Whether this build has CUDA and a GPU is visible."""


def presets() -> list[str]:
    """The model presets zo2.load and zo2.simulate know."""
    return list(_native.preset_names())


__all__ = ["load", "Model", "MeZO", "StepResult", "Policy", "policy_fields", "replay", "simulate", "TokenBatches",
           "presets", "has_cuda"]
