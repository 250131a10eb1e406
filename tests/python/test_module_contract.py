# import zo2 on the CPU against independent references: logits and token log-probabilities against transformers, one
# MeZO step against the plain Python MeZO (zo_reference), the loss mask against HF's labels=-100 cross-entropy, save
# loaded back by transformers, simulate against `zo2 simulate --format json`.
import json

import numpy as np
import pytest
import torch
from transformers import AutoModelForCausalLM

import zo_reference
from conftest import DEVICES, run_zo2, saved_random_model


def rel_error(got, ref):
    got, ref = np.asarray(got, dtype=np.float64), np.asarray(ref, dtype=np.float64)
    return float(np.linalg.norm(got - ref) / np.linalg.norm(ref))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("family", ["opt", "llama"])
def test_logits_and_token_logprobs_match_transformers(zo2m, rng, tmp_path, family, device):
    config, ref = saved_random_model(family, rng, tmp_path / "m")
    model = zo2m.load(tmp_path / "m", device=device)
    ids = torch.from_numpy(rng.integers(0, config.vocab_size, size=(int(rng.integers(1, 4)), int(rng.integers(2, 30)))))
    logits = model.logits(ids)
    with torch.no_grad():
        want = ref(ids).logits
    assert logits.dtype == torch.float32 and logits.shape == want.shape and logits.device.type == device
    assert rel_error(logits.cpu(), want) < 1e-4  # fp32, as the CLI's parity tests

    lp = model.token_logprobs(ids).cpu()
    want_lp = torch.log_softmax(want.double(), -1)[:, :-1].gather(-1, ids[:, 1:, None])[..., 0]
    assert lp.shape == ids.shape and lp.dtype == torch.float32
    assert torch.all(lp[:, 0] == 0)
    assert torch.allclose(lp[:, 1:].double(), want_lp, rtol=1e-4, atol=1e-4)

    mask = torch.from_numpy(rng.integers(0, 2, size=ids.shape)).bool()
    mask[:, -1] = True
    got = model.score(ids, mask).cpu()
    m = mask.clone()
    m[:, 0] = False
    want_score = (lp.double() * m).sum(1) / m.sum(1)
    assert torch.allclose(got.double(), want_score, rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match="mark no token"):
        model.score(ids, torch.zeros_like(mask))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("family", ["opt", "llama"])
def test_step_from_checkpoint_is_the_plain_mezo_step_and_save_loads_back(zo2m, rng, tmp_path, family, device):
    config, ref = saved_random_model(family, rng, tmp_path / "m")
    lr, eps, wd, seed = 5e-3, 1e-2, 0.05, int(rng.integers(1 << 62))
    model = zo2m.load(tmp_path / "m", device=device)
    opt = zo2m.MeZO(model, lr=lr, eps=eps, weight_decay=wd, seed=seed)
    ids = rng.integers(0, config.vocab_size, size=(2, 12))
    r = opt.step(torch.from_numpy(ids))
    plus, minus, g = zo_reference.mezo_step(ref, ids, seed, 0, lr, eps, wd)
    assert (r.step, r.seed, r.lr) == (0, zo_reference.step_seed(seed, 0), float(np.float32(lr)))
    assert abs(r.loss_plus - plus) < 1e-5 * abs(plus) and abs(r.loss_minus - minus) < 1e-5 * abs(minus)
    assert abs(r.projected_grad - g) < 1e-3 + 1e-3 * abs(g)
    assert opt.step_index == 1

    model.save(tmp_path / "out")  # applies the pending update first
    saved, info = AutoModelForCausalLM.from_pretrained(tmp_path / "out", output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"] and not info["mismatched_keys"], info
    want = dict(ref.named_parameters())
    for name, p in saved.named_parameters():
        assert torch.allclose(p, want[name], rtol=0, atol=1e-5), name


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("family", ["opt", "llama"])
def test_loss_mask_is_hf_masked_cross_entropy(zo2m, rng, tmp_path, family, device):
    config, ref = saved_random_model(family, rng, tmp_path / "m")
    seed = int(rng.integers(1 << 62))
    ids = rng.integers(0, config.vocab_size, size=(3, 10))
    mask = rng.integers(0, 2, size=ids.shape).astype(bool)
    mask[0, 5] = True
    labels = np.where(mask, ids, -100)  # HF: labels are the ids, -100 where no target; the shift happens inside
    lr, eps = 1e-3, 1e-2
    model = zo2m.load(tmp_path / "m", device=device)
    opt = zo2m.MeZO(model, lr=lr, eps=eps, seed=seed)
    r = opt.step(torch.from_numpy(ids), loss_mask=torch.from_numpy(mask))
    plus, minus, g = zo_reference.mezo_step(ref, ids, seed, 0, lr, eps, 0.0, labels=labels)
    assert abs(r.loss_plus - plus) < 1e-5 * abs(plus) and abs(r.loss_minus - minus) < 1e-5 * abs(minus)
    assert abs(r.projected_grad - g) < 1e-3 + 1e-3 * abs(g)

    # Position 0 is never a target, and a 0/1 integer mask is the bool one: the losses are bitwise the same.
    again = zo2m.load(tmp_path / "m", device=device)
    opt2 = zo2m.MeZO(again, lr=lr, eps=eps, seed=seed)
    flipped = mask.astype(np.int64)
    flipped[:, 0] = 1 - flipped[:, 0]
    r2 = opt2.step(torch.from_numpy(ids), loss_mask=torch.from_numpy(flipped))
    assert (r2.loss_plus, r2.loss_minus) == (r.loss_plus, r.loss_minus)
    # And the mask matters: the unmasked loss of the same perturbed model differs.
    unmasked = zo2m.MeZO(zo2m.load(tmp_path / "m", device=device), lr=lr, eps=eps, seed=seed).step(torch.from_numpy(ids))
    assert unmasked.loss_plus != r.loss_plus


def test_simulate_is_the_cli_json(zo2m, zo2_bin):
    got = zo2m.simulate(model="opt-13b", profile="h100-targets", prefetch=2, writeback=4, prefetch_next=True)
    out = run_zo2(zo2_bin, "simulate", "--model", "opt-13b", "--profile", "h100-targets", "--prefetch", 2,
                  "--writeback", 4, "--prefetch-next", "on", "--format", "json")
    assert got == json.loads(out.stdout)
    assert got["policy"]["prefetch"] == 2 and got["step_seconds"] > 0
    with pytest.raises(ValueError, match="unknown policy field 'prefetchh'"):
        zo2m.simulate(model="opt-13b", prefetchh=2)
    with pytest.raises(ValueError, match="--prefetch"):
        zo2m.simulate(model="opt-13b", prefetch=-1)


def test_policy_fields_and_defaults_are_the_engines(zo2m):
    import dataclasses

    # A knob added to the engine's table and not to zo2.Policy (or the reverse) fails here.
    assert sorted(f.name for f in dataclasses.fields(zo2m.Policy)) == sorted(zo2m.policy_fields())
    # zo2.Policy()'s defaults are the engine's, except offload (none, as `zo2 train`'s default) and the formats
    # (zo2.load's dtype).
    layers = 4
    py_defaults = zo2m.Policy(dtype="fp16").resolved(layers)
    engine_defaults = json.loads(zo2m._native.resolve_policy("{}", layers))
    assert py_defaults.pop("offload") == "none" and engine_defaults.pop("offload") == "all"
    assert py_defaults == engine_defaults
