# zo2 train against an independent MeZO (numpy Philox, transformers forward) for OPT and LLaMA; its --save loads back in
# transformers.
import csv

import numpy as np
import pytest
import torch
from transformers import AutoModelForCausalLM

import zo_reference
from conftest import gpu_available, random_config_and_model, run_zo2, write_ids


def test_python_philox_matches_contract_vectors():
    # Random123's known answers, so this reference and core/philox.h implement the same generator.
    m = np.uint64
    w = zo_reference.philox4x32_10(m(0x243F6A88), m(0x85A308D3), m(0x13198A2E), m(0x03707344), 0xA4093822, 0x299F31D0)
    assert [int(x) for x in w] == [0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1]


def read_metrics(path):
    with open(path) as f:
        return list(csv.DictReader(f))


@pytest.mark.parametrize("family", ["opt", "llama", "qwen3", "mistral"])
def test_train_matches_reference_mezo_and_saves_all_updates(zo2_bin, rng, tmp_path, family):
    config, model = random_config_and_model(family, rng)
    model.save_pretrained(tmp_path / "start")
    # N == batch rows: every step's batch is every row (the loss is a mean, so their order does not matter).
    batch, seq, steps = 2, 16, 4
    data = rng.integers(0, config.vocab_size, size=(batch, seq + 3))
    write_ids(tmp_path / "data.npy", data)
    lr, eps, wd, seed = 5e-3, 1e-2, 0.05, int(rng.integers(1 << 62))
    run_zo2(zo2_bin, "train", "--model", tmp_path / "start", "--steps", steps, "--batch", batch, "--seq", seq,
            "--data", tmp_path / "data.npy", "--lr", lr, "--eps", eps, "--weight-decay", wd, "--seed", seed,
            "--save", tmp_path / "out", "--metrics", tmp_path / "m.csv")
    rows = read_metrics(tmp_path / "m.csv")
    assert [int(r["step"]) for r in rows] == list(range(steps))

    reference = AutoModelForCausalLM.from_pretrained(tmp_path / "start").eval()
    start = {n: p.detach().clone() for n, p in reference.named_parameters()}
    ids = np.ascontiguousarray(data[:, :seq])
    for step in range(steps):
        plus, minus, g = zo_reference.mezo_step(reference, ids, seed, step, lr, eps, wd)
        got = rows[step]
        assert abs(float(got["loss_plus"]) - plus) < 1e-5 * abs(plus)
        assert abs(float(got["loss_minus"]) - minus) < 1e-5 * abs(minus)
        # g = (loss+ - loss-) / 2eps: float differences of 1e-6 in a loss near 5 become 2.5e-4.
        assert abs(float(got["projected_grad"]) - g) < 1e-3 + 1e-3 * abs(g)

    # transformers finds every tensor it expects under the keys zo2 wrote, and nothing else.
    saved, info = AutoModelForCausalLM.from_pretrained(tmp_path / "out", output_loading_info=True)
    saved.eval()
    assert type(saved) is type(reference)
    assert not info["missing_keys"] and not info["unexpected_keys"] and not info["mismatched_keys"], info
    want = dict(reference.named_parameters())
    moved = total = 0.0
    for name, p in saved.named_parameters():
        delta_ref = (want[name] - start[name]).double()
        err = (p.detach().double() - want[name].double()).norm().item()
        # All N updates are there: the saved weights sit on the reference's, far closer than one update moves them.
        assert err <= 1e-3 * max(delta_ref.norm().item(), 1e-12) + 1e-6, name
        moved += delta_ref.norm().item()
        total += 1
    assert moved > 0

    # And what was saved is what zo2 computes with: forward through both agree.
    probe = rng.integers(0, config.vocab_size, size=(1, 10))
    write_ids(tmp_path / "probe.npy", probe)
    run_zo2(zo2_bin, "forward", "--model", tmp_path / "out", "--input-ids", tmp_path / "probe.npy", "--out", tmp_path / "l.npy")
    with torch.no_grad():
        ref = saved(torch.from_numpy(probe)).logits.double().numpy()
    got = np.load(tmp_path / "l.npy")
    assert np.linalg.norm(got - ref) / np.linalg.norm(ref) < 1e-4


@pytest.mark.parametrize("family", ["opt", "llama", "qwen3", "mistral"])
def test_cpu_and_gpu_trajectories_agree(zo2_bin, rng, tmp_path, family):
    if not gpu_available(zo2_bin):
        pytest.skip("no GPU on this machine")
    _, model = random_config_and_model(family, rng)
    model.save_pretrained(tmp_path / "start")
    common = ["--model", tmp_path / "start", "--steps", 5, "--batch", 2, "--seq", 32, "--lr", 1e-3, "--eps", 1e-3,
              "--seed", int(rng.integers(1 << 62))]
    run_zo2(zo2_bin, "train", *common, "--device", "cpu", "--metrics", tmp_path / "cpu.csv")
    run_zo2(zo2_bin, "train", *common, "--device", "cuda", "--metrics", tmp_path / "gpu.csv")
    for c, g in zip(read_metrics(tmp_path / "cpu.csv"), read_metrics(tmp_path / "gpu.csv")):
        # fp32 on both; cuBLAS and MKL sum in different orders: 1e-5 relative on the loss.
        assert abs(float(c["loss"]) - float(g["loss"])) < 1e-5 * abs(float(c["loss"]))
