# python3 -m zo2.finetune: MeZO fine-tuning on one of MeZO's tasks with the engine, with evaluation, seed log,
# atomic checkpoints, the best by dev metric, final/ and exact resume after kill -9.
import argparse
import json
import math
import pathlib
import sys
import time

import numpy as np

from . import evaluate as ev
from .run_state import Checkpoints, CsvLog, recover_dir, step_seed, truncate_csv, write_dir_atomically
from .task_batches import encode_answer, pad_batch, pad_id_of, train_target
from .tasks import DataError, get_task, load_splits

POLICY_FLAGS = {  # the engine's policy knobs, as `zo2 train` names them
    "offload": str, "prefetch": int, "slots": str, "overlap": str, "wire": str, "master": str, "writeback": int,
    "prefetch-next": str, "fold-update": str, "gpu-mem-budget": str, "host-threads": int, "fused-kernels": str,
    "wire-codec": str,
}
# What a resumed run must share with the run it continues (everything that changes the arithmetic or the data)
SAME_ON_RESUME = ("task", "data", "model", "steps", "batch", "lr", "eps", "weight_decay", "seed", "data_seed",
                  "seq", "num_train", "num_dev", "num_test", "eval_every", "checkpoint_every", "device", "dtype",
                  "policy")


class UsageError(Exception):
    pass


def parse_args(argv):
    ap = argparse.ArgumentParser(prog="python3 -m zo2.finetune", description="MeZO fine-tuning on MeZO's tasks.")
    ap.add_argument("--task", required=True)
    ap.add_argument("--data", required=True, help="folder with the task's files")
    ap.add_argument("--model", required=True, help="HF directory or preset")
    ap.add_argument("--tokenizer", help="folder with the tokenizer (default: --model)")
    ap.add_argument("--steps", type=int, required=True)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, required=True)
    ap.add_argument("--eps", type=float, default=1e-3)
    ap.add_argument("--weight-decay", type=float, default=0.0)
    ap.add_argument("--seed", type=int, default=0, help="the run seed (step seeds derive from it)")
    ap.add_argument("--data-seed", type=int, default=0, help="seed of the train/dev sample and the data order")
    ap.add_argument("--seq", type=int, default=256, help="longest sequence; prompts are cut from the left")
    ap.add_argument("--num-train", type=int, default=1000)
    ap.add_argument("--num-dev", type=int, default=500)
    ap.add_argument("--num-test", type=int, default=1000)
    ap.add_argument("--eval-every", type=int, default=0, help="evaluate dev and test every N steps (0: at the end)")
    ap.add_argument("--eval-batch", type=int, default=8)
    ap.add_argument("--max-new-tokens", type=int, default=50)
    ap.add_argument("--checkpoint-every", type=int, default=0, help="default: --eval-every (0: none)")
    ap.add_argument("--keep-checkpoints", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--dtype", default="fp32")
    ap.add_argument("--out", required=True)
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--no-progress", action="store_true")
    for flag, kind in POLICY_FLAGS.items():
        ap.add_argument(f"--{flag}", type=kind, help="engine policy (as zo2 train)")
    args = ap.parse_args(argv)
    for name in ("steps", "batch", "seq", "eval_batch", "keep_checkpoints"):
        if getattr(args, name) < 1:
            raise UsageError(f"--{name.replace('_', '-')}: expected a positive integer, got {getattr(args, name)}")
    for name in ("eval_every", "checkpoint_every", "num_train", "num_dev", "num_test"):
        if getattr(args, name) < 0:
            raise UsageError(f"--{name.replace('_', '-')}: expected 0 or more, got {getattr(args, name)}")
    if not (args.lr > 0 and math.isfinite(args.lr)) or not (args.eps > 0 and math.isfinite(args.eps)):
        raise UsageError("--lr and --eps: expected positive finite numbers")
    if args.seq <= args.max_new_tokens:
        raise UsageError(f"--seq {args.seq}: expected more than --max-new-tokens {args.max_new_tokens}")
    if args.checkpoint_every == 0:
        args.checkpoint_every = args.eval_every
    args.policy = {k.replace("-", "_"): getattr(args, k.replace("-", "_")) for k in POLICY_FLAGS
                   if getattr(args, k.replace("-", "_")) is not None}
    return args


def batch_indices(step, batch, n, data_seed):
    """The training examples of a step: a seeded permutation per epoch, read in order (a pure function of the step,
    so that resume needs no data-loader state)."""
    out = []
    for pos in range(step * batch, (step + 1) * batch):
        epoch, i = divmod(pos, n)
        out.append(int(np.random.RandomState([data_seed, epoch]).permutation(n)[i]))
    return out


class Progress:
    """tqdm when installed, else a line every few seconds; shows loss, ETA and the last eval."""

    def __init__(self, start, total, enabled):
        self.total, self.enabled, self.last_print, self.t0, self.start = total, enabled, 0.0, time.time(), start
        self.bar = None
        if enabled:
            try:
                from tqdm import tqdm
                self.bar = tqdm(total=total, initial=start, unit="step", dynamic_ncols=True)
            except ImportError:
                pass

    def update(self, step, loss, last_eval):
        if not self.enabled:
            return
        info = f"loss {loss:.4f}" + (f" | {last_eval}" if last_eval else "")
        if self.bar is not None:
            self.bar.set_postfix_str(info, refresh=False)
            self.bar.update(1)
            return
        now = time.time()
        if now - self.last_print > 5 or step == self.total:
            done = step - self.start
            eta = (now - self.t0) / max(done, 1) * (self.total - step)
            print(f"step {step}/{self.total} {info} eta {eta:.0f}s", file=sys.stderr, flush=True)
            self.last_print = now

    def close(self):
        if self.bar is not None:
            self.bar.close()


def load_tokenizer(path):
    from transformers import AutoTokenizer
    p = pathlib.Path(path)
    if not p.is_dir():
        raise UsageError(f"--tokenizer: '{path}' is not a folder holding a tokenizer (a preset has none: give "
                         "--tokenizer DIR)")
    try:
        return AutoTokenizer.from_pretrained(str(p))
    except Exception as e:  # transformers raises several kinds for a folder without a tokenizer
        raise UsageError(f"--tokenizer: no tokenizer could be loaded from {p} ({e})") from None


def run(args):
    import zo2  # the engine (python/zo2/__init__.py)

    out = pathlib.Path(args.out)
    config = {k: getattr(args, k) for k in SAME_ON_RESUME}
    config["data"], config["model"] = str(pathlib.Path(args.data).resolve()), str(args.model)
    if (out / "run.json").exists() and not args.resume:
        raise UsageError(f"--out: {out} already holds a run (give --resume to continue it, or another --out)")
    if args.resume:
        if not (out / "run.json").exists():
            raise UsageError(f"--resume: {out}/run.json not found (nothing to resume)")
        before = json.loads((out / "run.json").read_text())
        changed = [k for k in SAME_ON_RESUME if before.get(k) != config[k]]
        if changed:
            raise UsageError(f"--resume: {', '.join('--' + k.replace('_', '-') for k in changed)} differ from "
                             f"the run in {out} ({', '.join(f'{k}={before.get(k)!r}' for k in changed)})")
    out.mkdir(parents=True, exist_ok=True)

    task = get_task(args.task)
    train, dev, test, notes = load_splits(task, args.data, args.num_train, args.num_dev, args.num_test,
                                          args.data_seed)
    for note in notes:
        print(f"zo2.finetune: {note}", file=sys.stderr)
    tok = load_tokenizer(args.tokenizer or args.model)
    pad_id = pad_id_of(tok)
    targets = [encode_answer(tok, task, ex, train_target(task, ex), args.seq) for ex in train]
    if not args.resume:
        (out / "run.json").write_text(json.dumps(dict(config, notes=notes, run_seed=args.seed), indent=1))

    ckpts = Checkpoints(out, args.keep_checkpoints)
    recover_dir(out / "best")
    start, best = 0, {"step": None, "value": None}
    model_path = args.model
    if args.resume:
        path, state = ckpts.latest()
        if path is not None:
            model_path, start, best = str(path), state["step"], state["best"]
    for name in ("metrics.csv", "seeds.csv", "eval.csv"):  # rows after the checkpoint are redone (all without one)
        truncate_csv(out / name, start if start > 0 else -1)
    policy = zo2.Policy(**args.policy) if args.policy else None
    model = zo2.load(model_path, device=args.device, dtype=args.dtype, policy=policy, seed=args.seed)
    opt = zo2.MeZO(model, lr=args.lr, eps=args.eps, weight_decay=args.weight_decay, seed=args.seed)
    opt.step_index = start

    metrics_log = CsvLog(out / "metrics.csv", ["step", "loss", "projected_grad", "lr", "step_seconds",
                                                "tokens_per_second"])
    seeds_log = CsvLog(out / "seeds.csv", ["step", "seed", "projected_grad", "lr"], sync=True)
    eval_log = CsvLog(out / "eval.csv", ["step", "split", "metric", "value"])
    primary = "f1" if task.kind == "generate" else "accuracy"
    last_eval = ""

    def do_eval(step):
        nonlocal last_eval
        opt.flush()
        shown = []
        for split, exs in (("dev", dev), ("test", test)):
            if not exs:
                continue
            for metric, value in ev.evaluate(model, tok, task, exs, args.seq, args.eval_batch,
                                             args.max_new_tokens).items():
                eval_log.write(step, split, metric, f"{value:.6f}")
                if metric == primary:
                    shown.append(f"{split} {metric} {value:.3f}")
                if split == "dev" and metric == primary and (best["value"] is None or value > best["value"]):
                    best.update(step=step, value=value)
                    write_dir_atomically(out / "best", lambda d: (model.save(str(d / "model")), (
                        d / "best.json").write_text(json.dumps(dict(best, metric=metric)))))
        last_eval = ", ".join(shown)

    if start == 0 and args.eval_every:
        do_eval(0)  # zero-shot
    progress = Progress(start, args.steps, not args.no_progress)
    for step in range(start, args.steps):
        ids, mask = pad_batch([targets[i] for i in batch_indices(step, args.batch, len(train), args.data_seed)],
                              pad_id)
        t0 = time.perf_counter()
        r = opt.step(ids, loss_mask=mask)
        seconds = time.perf_counter() - t0
        done = step + 1
        seed = getattr(r, "seed", None)
        seed = step_seed(args.seed, step) if seed is None else int(seed)
        seeds_log.write(done, seed, repr(float(r.projected_grad)), repr(args.lr))
        metrics_log.write(done, repr(float(r.loss)), repr(float(r.projected_grad)), repr(args.lr),
                          f"{seconds:.6f}", f"{ids.numel() / seconds:.1f}")
        if args.eval_every and done % args.eval_every == 0 and done != args.steps:
            do_eval(done)
        if args.checkpoint_every and done % args.checkpoint_every == 0 and done != args.steps:
            opt.flush()
            ckpts.save(done, lambda d: model.save(str(d)), {"step": done, "best": best})
        progress.update(done, float(r.loss), last_eval)
    progress.close()
    do_eval(args.steps)
    opt.flush()
    write_dir_atomically(out / "final", lambda d: model.save(str(d)))
    for log in (metrics_log, seeds_log, eval_log):
        log.close()
    print(f"zo2.finetune: {args.steps} steps; {last_eval}; final weights in {out / 'final'}", file=sys.stderr)


def main(argv=None):
    try:
        run(parse_args(argv))
    except (UsageError, DataError) as e:
        print(f"zo2.finetune: {e}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
