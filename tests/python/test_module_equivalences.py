# import zo2's equivalences, bitwise: offloaded policies are the resident run (CPU reference executor), the Python loop
# is `zo2 train`, a resumed run is the uninterrupted one, a replayed seed log is the trained model, and reading the
# model between steps (a forward, a save) changes nothing.
import csv

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from conftest import DEVICES, run_zo2, saved_random_model, write_ids


def tensors(directory):
    return load_file(str(directory / "model.safetensors"))


def assert_same_weights(a, b):
    ta, tb = tensors(a), tensors(b)
    assert ta.keys() == tb.keys()
    for k in ta:
        assert torch.equal(ta[k], tb[k]), k


def run_steps(zo2m, directory, policy, dtype, seed, batches, masks, lr=2e-3, eps=1e-2, wd=0.1, read_between=False,
              out=None, device="cpu"):
    model = zo2m.load(directory, dtype=dtype, policy=policy, device=device)
    opt = zo2m.MeZO(model, lr=lr, eps=eps, weight_decay=wd, seed=seed)
    results = []
    for ids, mask in zip(batches, masks):
        results.append(opt.step(ids, loss_mask=mask))
        if read_between:
            model.logits(ids[:1])
    if out is not None:
        model.save(out)
    return model, opt, results


def batches_and_masks(rng, vocab, steps, shape):
    batches = [torch.from_numpy(rng.integers(0, vocab, size=shape)) for _ in range(steps)]
    masks = [None if s % 2 else torch.from_numpy(rng.integers(0, 2, size=shape)).bool() | (torch.arange(shape[1]) == 3)
             for s in range(steps)]
    return batches, masks


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", ["fp32", "fp16"])
@pytest.mark.parametrize("family", ["opt", "llama"])
def test_offloaded_policies_are_the_resident_run_bitwise(zo2m, rng, tmp_path, dtype, family, device):
    config, _ = saved_random_model(family, rng, tmp_path / "m", num_hidden_layers=3)
    seed = int(rng.integers(1 << 62))
    batches, masks = batches_and_masks(rng, config.vocab_size, 6, (2, 9))
    _, _, want = run_steps(zo2m, tmp_path / "m", zo2m.Policy(), dtype, seed, batches, masks, out=tmp_path / "resident",
                          device=device)
    policies = [zo2m.Policy(offload="all", prefetch=2, writeback=4, prefetch_next=True),
                zo2m.Policy(offload=[0, 2], prefetch=1, writeback=3, fold_update=False),
                zo2m.Policy(offload="all", slots="alloc", overlap=False)]
    if dtype != "fp32":  # the lossless wire codec codes 16-bit blocks; every flush makes the next step encode again
        policies.append(zo2m.Policy(offload="all", prefetch=1, writeback=2, wire_codec="lossless"))
    for i, policy in enumerate(policies):
        # A forward after every step too: reading the model flushes, and the trajectory must not notice.
        read_between = i == 0 or policy.wire_codec == "lossless"
        _, _, got = run_steps(zo2m, tmp_path / "m", policy, dtype, seed, batches, masks, read_between=read_between,
                              out=tmp_path / f"p{i}", device=device)
        assert [(r.loss_plus, r.loss_minus, r.projected_grad) for r in got] == \
            [(r.loss_plus, r.loss_minus, r.projected_grad) for r in want], policy
        assert_same_weights(tmp_path / "resident", tmp_path / f"p{i}")


@pytest.mark.parametrize("device", DEVICES)
def test_python_loop_is_zo2_train_bitwise(zo2m, zo2_bin, rng, tmp_path, device):
    config, _ = saved_random_model("opt", rng, tmp_path / "m")
    batch, seq, steps = 2, 12, 5
    data = rng.integers(0, config.vocab_size, size=(5, seq + 2))
    write_ids(tmp_path / "data.npy", data)
    lr, eps, wd, seed = 1e-3, 1e-2, 0.01, int(rng.integers(1 << 62))
    policy_flags = ["--offload", "all", "--prefetch", 2, "--writeback", 2, "--dtype", "fp16"]
    run_zo2(zo2_bin, "train", "--model", tmp_path / "m", "--steps", steps, "--batch", batch, "--seq", seq, "--data",
            tmp_path / "data.npy", "--lr", lr, "--eps", eps, "--weight-decay", wd, "--seed", seed, *policy_flags,
            "--device", device, "--metrics", tmp_path / "m.csv", "--save", tmp_path / "cli")
    with open(tmp_path / "m.csv") as f:
        rows = list(csv.DictReader(f))

    model = zo2m.load(tmp_path / "m", device=device, dtype="fp16",
                      policy=zo2m.Policy(offload="all", prefetch=2, writeback=2))
    opt = zo2m.MeZO(model, lr=lr, eps=eps, weight_decay=wd, seed=seed)
    data_order = zo2m.TokenBatches(tmp_path / "data.npy", model.vocab_size, batch, seq, seed=seed)
    for step, ids in zip(range(steps), data_order):
        r = opt.step(ids)
        # The CLI prints 9 significant digits: enough for the float32 losses to round-trip exactly.
        assert np.float32(r.loss_plus) == np.float32(rows[step]["loss_plus"]), step
        assert np.float32(r.loss_minus) == np.float32(rows[step]["loss_minus"]), step
    model.save(tmp_path / "py")
    assert_same_weights(tmp_path / "cli", tmp_path / "py")
    assert (tmp_path / "cli" / "config.json").read_text() == (tmp_path / "py" / "config.json").read_text()


@pytest.mark.parametrize("policy", [dict(), dict(offload="all", prefetch=1, writeback=3, prefetch_next=True)])
def test_resume_from_a_checkpoint_is_the_uninterrupted_run(zo2m, rng, tmp_path, policy):
    config, _ = saved_random_model("llama", rng, tmp_path / "m")
    seed = int(rng.integers(1 << 62))
    batches, masks = batches_and_masks(rng, config.vocab_size, 7, (2, 8))
    p = zo2m.Policy(**policy)
    _, _, want = run_steps(zo2m, tmp_path / "m", p, "fp16", seed, batches, masks, out=tmp_path / "whole")

    k = 4
    _, first, got = run_steps(zo2m, tmp_path / "m", p, "fp16", seed, batches[:k], masks[:k], out=tmp_path / "ckpt")
    state = first.state_dict()
    model = zo2m.load(tmp_path / "ckpt", dtype="fp16", policy=p)  # a fresh process would do the same
    opt = zo2m.MeZO(model, lr=2e-3, eps=1e-2, weight_decay=0.1, seed=seed)
    opt.load_state_dict(state)
    assert opt.step_index == k
    got += [opt.step(ids, loss_mask=m) for ids, m in zip(batches[k:], masks[k:])]
    model.save(tmp_path / "resumed")
    assert [(r.step, r.seed, r.loss_plus, r.loss_minus) for r in got] == \
        [(r.step, r.seed, r.loss_plus, r.loss_minus) for r in want]
    assert_same_weights(tmp_path / "whole", tmp_path / "resumed")


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", ["fp32", "fp16", "bf16"])
def test_replayed_seed_log_is_the_trained_model_bitwise(zo2m, rng, tmp_path, dtype, device):
    config, _ = saved_random_model("opt", rng, tmp_path / "m")
    seed = int(rng.integers(1 << 62))
    batches, masks = batches_and_masks(rng, config.vocab_size, 6, (2, 8))
    policy = zo2m.Policy(offload="0", writeback=2)
    _, _, results = run_steps(zo2m, tmp_path / "m", policy, dtype, seed, batches, masks, out=tmp_path / "trained",
                            device=device)
    log = [{k: repr(v) for k, v in r.log_record().items()} for r in results]  # as a CSV would hold it
    base = zo2m.load(tmp_path / "m", device=device, dtype=dtype, policy=zo2m.Policy(offload="all"))
    zo2m.replay(base, log, eps=1e-2, weight_decay=0.1)
    base.save(tmp_path / "replayed")
    assert_same_weights(tmp_path / "trained", tmp_path / "replayed")
    # A record without its fields is refused, naming them.
    with pytest.raises(ValueError, match="seed, projected_grad and lr"):
        zo2m.replay(base, [{"seed": 1}], eps=1e-2)
