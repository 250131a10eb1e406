"""zo2.MeZO: zeroth-order SGD steps on a zo2.Model by the engine; the seed log and its replay."""
from __future__ import annotations

import dataclasses
from typing import Any, Iterable, Mapping, Optional, Union

import torch

from ._native import native, to_engine
from .model import Model, TensorLike, as_ids, as_mask


@dataclasses.dataclass(frozen=True)
class StepResult:
    """One MeZO step: the two perturbed losses, g, and what a seed log needs to replay it.

    step: the step index; seed: its seed (z is a pure function of it); lr: the learning rate it applies.
    projected_grad: g = (loss_plus - loss_minus) / (2 eps) in double; the update applies float32(g). Log it with
    repr() (17 digits) so a replay reads back the same float32.
    """

    step: int
    loss_plus: float
    loss_minus: float
    projected_grad: float
    seed: int
    lr: float

    @property
    def loss(self) -> float:
        """The mean of the two perturbed losses (what `zo2 train` reports as the step's loss)."""
        return 0.5 * (self.loss_plus + self.loss_minus)

    def log_record(self) -> dict[str, Any]:
        """The step as a seed-log row: step, seed, projected_grad, lr (what zo2.replay takes)."""
        return {"step": self.step, "seed": self.seed, "projected_grad": self.projected_grad, "lr": self.lr}


class MeZO:
    """MeZO (zeroth-order SGD) on a zo2.Model: each step perturbs every weight by +eps*z and -eps*z in two forward
    passes, forms g = (loss+ - loss-) / (2 eps) and updates theta -= lr * (g*z + weight_decay*theta) (weight decay skips
    biases and norms). z comes from a counter-based generator keyed by the step's seed, seed_t = f(seed, t).

    The step is the one `zo2 train` runs (same engine, plan and executor), with the model's policy. A newer MeZO on
    the same model replaces this one (its pending update is applied first).
    """

    def __init__(self, model: Model, lr: float = 1e-6, eps: float = 1e-3, weight_decay: float = 0.0, seed: int = 0):
        if not isinstance(model, Model):
            raise ValueError(f"model: expected a zo2.Model (zo2.load), got {type(model).__name__}")
        self.model = model
        self._opt = native.OptimizerSession(model._session, float(lr), float(eps), float(weight_decay), int(seed))

    def step(self, input_ids: TensorLike, loss_mask: Optional[Any] = None) -> StepResult:
        """One MeZO step on a batch of token ids (int64 [B, T], T >= 2; on any device: copied to the model's).

        The loss is HF's causal-LM loss with labels = input_ids (position t's logits predict token t+1, mean over the
        targets). loss_mask (bool or 0/1, [B, T]) limits it to the marked target tokens, by their own position as HF's
        labels != -100 do: loss_mask[b, t] = 1 makes token t a target; position 0 is never one. The update stays
        pending in blocks that keep it (offloaded ones) until the next step, a flush, a forward or a save.

        Raises ValueError for ids or a mask of the wrong dtype or shape, ids outside the vocabulary, a mask with no
        target, or a (B, T) whose memory plan exceeds the policy's gpu_mem_budget."""
        ids = to_engine(as_ids(input_ids))
        mask = None if loss_mask is None else to_engine(as_mask(loss_mask))
        step, plus, minus, g, seed, lr = self._opt.step(ids, mask)
        return StepResult(int(step), float(plus), float(minus), float(g), int(seed), float(lr))

    def flush(self) -> None:
        """Applies the pending update to every block (offloaded copies written back): the model is the trained one."""
        self._opt.flush()

    @property
    def step_index(self) -> int:
        """The index of the next step (its seed is f(seed, step_index)). Setting it flushes first: a run resumed from
        a checkpoint saved after step k-1 sets k and continues with the seeds the uninterrupted run drew."""
        return int(self._opt.step_index)

    @step_index.setter
    def step_index(self, step: int) -> None:
        self._opt.step_index = int(step)

    @property
    def lr(self) -> float:
        return float(self._opt.hyper[0])

    @property
    def eps(self) -> float:
        return float(self._opt.hyper[1])

    @property
    def weight_decay(self) -> float:
        return float(self._opt.hyper[2])

    @property
    def seed(self) -> int:
        return int(self._opt.hyper[3])

    @property
    def pending(self) -> Optional[tuple[int, float]]:
        """(seed, g) of the update still pending in blocks that keep it, or None."""
        p = self._opt.pending
        return None if p is None else (int(p[0]), float(p[1]))

    def state_dict(self) -> dict[str, Any]:
        """The optimizer's state for a checkpoint: hyper-parameters and the next step's index."""
        return {"step_index": self.step_index, "lr": self.lr, "eps": self.eps, "weight_decay": self.weight_decay,
                "seed": self.seed}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Continues a checkpointed run: the hyper-parameters must be this optimizer's; sets the step index."""
        for key in ("lr", "eps", "weight_decay", "seed"):
            if key in state and state[key] != getattr(self, key):
                raise ValueError(f"load_state_dict: {key} {state[key]!r} differs from this optimizer's {getattr(self, key)!r}")
        self.step_index = int(state["step_index"])

    def __repr__(self) -> str:
        return (f"zo2.MeZO(lr={self.lr:g}, eps={self.eps:g}, weight_decay={self.weight_decay:g}, seed={self.seed}, "
                f"step_index={self.step_index})")


LogRecord = Union[StepResult, Mapping[str, Any]]


def _record(r: LogRecord) -> tuple[int, float, float]:
    if isinstance(r, StepResult):
        return r.seed, r.projected_grad, r.lr
    try:
        return int(r["seed"]), float(r["projected_grad"]), float(r["lr"])
    except (KeyError, TypeError, ValueError) as e:
        raise ValueError(f"replay: a record needs seed, projected_grad and lr ({r!r}): {e}") from e


def replay(model: Model, records: Iterable[LogRecord], eps: float, weight_decay: float = 0.0) -> None:
    """Applies logged steps to `model`'s weights as training applied them, without a forward pass.

    records: StepResults or mappings with seed, projected_grad and lr (a seed log's rows, in step order; strings are
    parsed). eps and weight_decay are the run's. Starting from the weights the run started from, on the kind of
    device it trained on, the result is bitwise the trained model (any policy: offloaded runs are bitwise resident
    runs). Cost: three passes over the weights per step, no forward."""
    steps = [_record(r) for r in records]
    model._session.replay(float(eps), float(weight_decay), steps)


class TokenBatches:
    """The batches `zo2 train --data` draws: rows of an int64 [N, T'] .npy in a seeded shuffle that wraps around, or
    random tokens without a file (the benchmark workload). Iterating yields int64 [batch, seq] CPU tensors."""

    def __init__(self, data: Optional[str], vocab_size: int, batch: int, seq: int, seed: int = 0):
        self._b = native.TokenBatches(None if data is None else str(data), int(vocab_size), int(batch), int(seq),
                                      int(seed))

    def __iter__(self) -> "TokenBatches":
        return self

    def __next__(self) -> torch.Tensor:
        return torch.utils.dlpack.from_dlpack(self._b.next())
