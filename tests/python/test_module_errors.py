# Bad input from Python raises a clear exception (the CLI's message; ValueError for a bad value) and leaves the process
# usable: after every refusal the same optimizer steps on, bitwise as a run that never saw the bad input.
import pytest
import torch

from conftest import saved_random_model


def test_bad_input_raises_and_the_process_stays_usable(zo2m, rng, tmp_path):
    config, _ = saved_random_model("opt", rng, tmp_path / "m")
    V = config.vocab_size
    seed = int(rng.integers(1 << 62))
    good = [torch.from_numpy(rng.integers(0, V, size=(2, 10))) for _ in range(3)]
    clean = zo2m.MeZO(zo2m.load(tmp_path / "m"), lr=1e-3, eps=1e-2, seed=seed)
    want = [clean.step(ids) for ids in good]

    model = zo2m.load(tmp_path / "m")
    opt = zo2m.MeZO(model, lr=1e-3, eps=1e-2, seed=seed)
    ids = good[0]
    bad_steps = [
        (ids.float(), "expected int64 token ids"),
        (ids.int(), "expected int64 token ids"),
        (ids[0], r"expected a non-empty 2-D \[B, T\] array of token ids"),
        (ids[None], r"expected a non-empty 2-D \[B, T\]"),
        (ids[:, :1], "the loss needs at least 2"),
        (torch.cat([ids, ids], 1).repeat(1, 4), "exceed the model's 64 positions"),
        (torch.where(ids == ids[1, 3], V, ids), rf"token id {V} at flat index \d+ is outside the vocabulary \[0, {V}\)"),
        (torch.where(ids == ids[0, 0], -1, ids), r"token id -1 at flat index 0 is outside the vocabulary"),
    ]
    got = [opt.step(good[0])]
    for bad, message in bad_steps:
        with pytest.raises(ValueError, match=message):
            opt.step(bad)
        if "at least 2" not in message:  # a forward takes one token
            with pytest.raises(ValueError, match=message):
                model.logits(bad)
    bad_masks = [
        (torch.ones(2, 9, dtype=torch.bool), r"loss_mask: shape \[2, 9\] differs from input_ids' \[2, 10\]"),
        (torch.full((2, 10), 2), "expected bool or 0/1 values, found others"),
        (torch.zeros(2, 10, dtype=torch.bool).index_fill_(1, torch.tensor([0]), True), "no target token"),
    ]
    for mask, message in bad_masks:
        with pytest.raises(ValueError, match=message):
            opt.step(good[1], loss_mask=mask)
    with pytest.raises(ValueError, match="--eps 0: expected a positive number"):
        zo2m.MeZO(model, lr=1e-3, eps=0.0)
    got += [opt.step(ids) for ids in good[1:]]
    assert [(r.loss_plus, r.loss_minus) for r in got] == [(r.loss_plus, r.loss_minus) for r in want]


def test_bad_models_and_policies_are_refused_before_loading(zo2m, rng, tmp_path):
    with pytest.raises(ValueError, match="neither a preset"):
        zo2m.load(tmp_path / "nowhere")
    with pytest.raises(ValueError, match="--offload 'x'"):
        zo2m.load("opt-125m", policy=zo2m.Policy(offload="x"))
    with pytest.raises(ValueError, match="--prefetch: expected an integer >= 0"):
        zo2m.load("opt-125m", policy=zo2m.Policy(prefetch=-1))
    with pytest.raises(ValueError, match="policy dtype 'bf16' differs from load"):
        zo2m.load("opt-125m", dtype="fp16", policy=zo2m.Policy(dtype="bf16"))
    with pytest.raises(ValueError, match="--device 'tpu'"):
        zo2m.load("opt-125m", device="tpu")
    # Over the memory budget: refused by the plan, naming the budget, before a byte of the 175B model is allocated.
    with pytest.raises(ValueError, match="gpu-mem-budget"):
        zo2m.load("opt-175b", dtype="fp16", policy=zo2m.Policy(offload="all", gpu_mem_budget="1GB"))
    # A step whose shape needs more than the budget is refused too, and a smaller one still runs.
    config, _ = saved_random_model("opt", rng, tmp_path / "m")
    probe = zo2m.load(tmp_path / "m", policy=zo2m.Policy(offload="all"))
    small, large = probe.predicted_gpu_bytes(1, 8), probe.predicted_gpu_bytes(16, 64)
    assert small < large
    model = zo2m.load(tmp_path / "m", policy=zo2m.Policy(offload="all", gpu_mem_budget=(small + large) // 2))
    opt = zo2m.MeZO(model, lr=1e-3, eps=1e-2)
    with pytest.raises(ValueError, match="gpu-mem-budget"):
        opt.step(torch.from_numpy(rng.integers(0, config.vocab_size, size=(16, 64))))
    r = opt.step(torch.from_numpy(rng.integers(0, config.vocab_size, size=(1, 8))))
    assert r.step == 0 and probe.layers == model.layers


def test_a_replaced_optimizer_is_refused_and_its_update_kept(zo2m, rng, tmp_path):
    config, _ = saved_random_model("opt", rng, tmp_path / "m")
    model = zo2m.load(tmp_path / "m", policy=zo2m.Policy(offload="all"))
    first = zo2m.MeZO(model, lr=1e-2, eps=1e-2, seed=3)
    ids = torch.from_numpy(rng.integers(0, config.vocab_size, size=(1, 8)))
    first.step(ids)
    assert first.pending is not None
    zo2m.MeZO(model, lr=1e-2, eps=1e-2, seed=4)
    with pytest.raises(RuntimeError, match="replaced by a newer optimizer"):
        first.step(ids)
    model.save(tmp_path / "replaced")
    alone = zo2m.load(tmp_path / "m", policy=zo2m.Policy(offload="all"))
    zo2m.MeZO(alone, lr=1e-2, eps=1e-2, seed=3).step(ids)
    alone.save(tmp_path / "alone")
    assert (tmp_path / "replaced" / "model.safetensors").read_bytes() == (tmp_path / "alone" / "model.safetensors").read_bytes()
