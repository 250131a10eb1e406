# Bad input and injected faults: clear errors that name the file, flag or numbers, and nothing already on disk lost.
import json
import os
import resource
import signal
import subprocess

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from transformers import OPTForCausalLM

from conftest import (random_llama_config, random_llama_model, random_opt_config, random_opt_model, run_zo2,
                      write_ids)


def run_failing(zo2, *args, fault=None):
    env = dict(os.environ)
    if fault:
        env["ZO2_FAULT"] = fault
    proc = subprocess.run([zo2, *map(str, args)], capture_output=True, text=True, env=env)
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    return proc.stderr


def logits_of(path, ids):
    with torch.no_grad():
        return OPTForCausalLM.from_pretrained(path).eval()(torch.from_numpy(ids)).logits.numpy()


def test_failures_leave_the_previous_checkpoint_whole(zo2_bin, rng, tmp_path):
    config = random_opt_config(rng)
    random_opt_model(config, int(rng.integers(1 << 31))).save_pretrained(tmp_path / "start")
    common = ["train", "--model", tmp_path / "start", "--batch", 1, "--seq", 8, "--lr", 1e-2,
              "--eps", 1e-2, "--seed", 3, "--offload", "all", "--save", tmp_path / "out", "--metrics", tmp_path / "m.csv"]
    run_zo2(zo2_bin, *common, "--steps", 2)
    probe = rng.integers(0, config.vocab_size, size=(1, 6))
    before = logits_of(tmp_path / "out", probe)
    metrics_before = (tmp_path / "m.csv").read_bytes()

    # An out-of-memory in the middle of a step: nothing is written.
    err = run_failing(zo2_bin, *common, "--steps", 2, fault="step:oom")
    assert "out of memory" in err
    # Host memory for offloaded blocks refused: the error gives the block and its bytes.
    err = run_failing(zo2_bin, *common, "--steps", 2, fault="pin:alloc")
    assert "block 0" in err and "bytes" in err

    assert (tmp_path / "m.csv").read_bytes() == metrics_before
    # A checkpoint write that fails after its first file: the old checkpoint stays whole; the finished steps'
    # metrics are written (a complete file, not a half one).
    err = run_failing(zo2_bin, *common, "--steps", 3, fault="save:after_first_file")
    assert "checkpoint write failed" in err and "save:after_first_file" in err
    np.testing.assert_array_equal(logits_of(tmp_path / "out", probe), before)
    assert (tmp_path / "m.csv").read_text().count("\n") == 4
    assert leftovers(tmp_path) == []


def saved_run(zo2_bin, rng, tmp_path):
    """A checkpoint at tmp_path/out from two steps, the command that continues it, and its logits on a probe."""
    config = random_opt_config(rng)
    random_opt_model(config, int(rng.integers(1 << 31))).save_pretrained(tmp_path / "start")
    common = ["train", "--model", tmp_path / "start", "--batch", 1, "--seq", 8, "--lr", 1e-2,
              "--eps", 1e-2, "--seed", 3, "--offload", "all", "--save", tmp_path / "out"]
    run_zo2(zo2_bin, *common, "--steps", 2)
    probe = rng.integers(0, config.vocab_size, size=(1, 6))
    return common, probe, logits_of(tmp_path / "out", probe)


def leftovers(tmp_path):
    return sorted(p.name for p in tmp_path.iterdir() if p.name.endswith((".partial", ".old")) or ".tmp." in p.name)


def test_kill9_during_save_leaves_a_whole_checkpoint(zo2_bin, rng, tmp_path):
    # kill -9 at each point of a save (ZO2_FAULT_STALL holds the process there): the directory --save names is a whole
    # checkpoint every time, the old one until the swap and the new one after it; the next save clears what was left.
    common, probe, before = saved_run(zo2_bin, rng, tmp_path)
    run_zo2(zo2_bin, *common[:-1], tmp_path / "reference", "--steps", 3)
    after = logits_of(tmp_path / "reference", probe)
    assert not np.array_equal(after, before)  # the third step moved the weights: the two cases are told apart
    for point, expect in [("save:after_first_file", before), ("save:before_swap", before),
                          ("save:after_swap", after)]:
        run_zo2(zo2_bin, *common, "--steps", 2)  # back to the two-step checkpoint
        env = dict(os.environ, ZO2_FAULT_STALL=point)
        proc = subprocess.Popen([zo2_bin, *map(str, common), "--steps", "3"], stderr=subprocess.PIPE, text=True,
                                env=env)
        line = proc.stderr.readline()  # printed when the save reaches the point
        assert f"stalled at {point}" in line, line
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        np.testing.assert_array_equal(logits_of(tmp_path / "out", probe), expect, err_msg=point)
        run_zo2(zo2_bin, *common, "--steps", 3)
        np.testing.assert_array_equal(logits_of(tmp_path / "out", probe), after, err_msg=point)
        assert leftovers(tmp_path) == [], point


def test_full_disk_is_a_clear_error_and_leaves_nothing_half_written(zo2_bin, rng, tmp_path):
    # A file-size limit (ulimit -f) under the checkpoint's size: the write fails with EFBIG as on a full disk.
    common, probe, before = saved_run(zo2_bin, rng, tmp_path)
    limit = max(p.stat().st_size for p in (tmp_path / "out").iterdir()) // 2

    def small_files():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    proc = subprocess.run([zo2_bin, *map(str, common), "--steps", "3"], capture_output=True, text=True,
                          preexec_fn=small_files)
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert "File too large" in proc.stderr and ".partial" in proc.stderr, proc.stderr
    np.testing.assert_array_equal(logits_of(tmp_path / "out", probe), before)
    assert leftovers(tmp_path) == []


def test_bad_inputs_name_what_is_wrong(zo2_bin, rng, tmp_path):
    config = random_opt_config(rng)
    random_opt_model(config, int(rng.integers(1 << 31))).save_pretrained(tmp_path / "m")
    write_ids(tmp_path / "ids.npy", np.array([[1, 2, config.vocab_size + 5]]))
    err = run_failing(zo2_bin, "forward", "--model", tmp_path / "m", "--input-ids", tmp_path / "ids.npy", "--out", tmp_path / "o.npy")
    assert "ids.npy" in err and "outside the vocabulary" in err
    np.save(tmp_path / "f.npy", np.zeros((1, 4), dtype=np.float32))
    err = run_failing(zo2_bin, "forward", "--model", tmp_path / "m", "--input-ids", tmp_path / "f.npy", "--out", tmp_path / "o.npy")
    assert "f.npy" in err and "int64" in err
    assert not (tmp_path / "o.npy").exists()
    # A truncated weights file.
    weights = tmp_path / "m" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-100])
    write_ids(tmp_path / "ok.npy", np.array([[1, 2]]))
    err = run_failing(zo2_bin, "forward", "--model", tmp_path / "m", "--input-ids", tmp_path / "ok.npy", "--out", tmp_path / "o.npy")
    assert "model.safetensors" in err
    # Flags.
    assert "--steps" in run_failing(zo2_bin, "train", "--model", "opt-125m", "--steps", 0, "--seq", 8)
    assert "opt-7b" in run_failing(zo2_bin, "train", "--model", "opt-7b", "--steps", 1)
    assert "--offload" in run_failing(zo2_bin, "train", "--model", "opt-125m", "--steps", 1, "--offload", "3-99")
    # A budget too small is refused before anything is allocated, with the plan's numbers.
    err = run_failing(zo2_bin, "train", "--model", "opt-125m", "--steps", 1, "--seq", 8, "--offload", "all",
                      "--gpu-mem-budget", "10MB")
    assert "--gpu-mem-budget" in err and "slots" in err and "resident_group" in err
    # Data shorter than --seq.
    write_ids(tmp_path / "short.npy", np.zeros((2, 4)))
    err = run_failing(zo2_bin, "train", "--model", tmp_path / "m", "--steps", 1, "--seq", 8, "--data", tmp_path / "short.npy")
    assert "short.npy" in err and "--seq" in err


def test_llama_checkpoint_without_its_head_is_refused(zo2_bin, rng, tmp_path):
    # A tied model's file has no lm_head.weight; a config.json that unties the head then asks for a missing tensor.
    config = random_llama_config(rng, tie_word_embeddings=True)
    random_llama_model(config, int(rng.integers(1 << 31))).save_pretrained(tmp_path / "m")
    cfg = json.loads((tmp_path / "m" / "config.json").read_text())
    cfg["tie_word_embeddings"] = False
    (tmp_path / "m" / "config.json").write_text(json.dumps(cfg))
    write_ids(tmp_path / "ids.npy", np.array([[1, 2]]))
    forward = ["forward", "--model", tmp_path / "m", "--input-ids", tmp_path / "ids.npy", "--out", tmp_path / "o.npy"]
    err = run_failing(zo2_bin, *forward)
    assert "lm_head.weight" in err and "config.json" in err and "tie_word_embeddings" in err
    assert not (tmp_path / "o.npy").exists()
    # A misnamed block tensor: the error names the prefix tried and the first missing key.
    cfg["tie_word_embeddings"] = True
    (tmp_path / "m" / "config.json").write_text(json.dumps(cfg))
    tensors = load_file(tmp_path / "m" / "model.safetensors")
    tensors["model.layers.0.mlp.gate.weight"] = tensors.pop("model.layers.0.mlp.gate_proj.weight")
    save_file(tensors, tmp_path / "m" / "model.safetensors", metadata={"format": "pt"})
    err = run_failing(zo2_bin, *forward)
    assert "'model.layers.0.mlp.gate_proj.weight'" in err, err
