"""MeZO fine-tuning from Python: the README's loop over HF `datasets`-style batches (dicts of lists), no hub.

A toy task stands in for a dataset: each example is a prompt and an answer as token ids; the loss covers the answer
tokens only (loss_mask), as MeZO trains classification prompts. With `datasets`, `dataset.map(tokenize)` followed by
`dataset.iter(batch_size=B)` yields the same dicts of lists.

    python3 examples/mezo_loop.py --model opt-125m --layers 2 --steps 10            # CPU, a 2-block random OPT
    python3 examples/mezo_loop.py --model opt-1.3b --device cuda --dtype fp16 --offload all --prefetch 2 --writeback 4
"""
import argparse
import random

import torch

import zo2


def toy_dataset(vocab_size, n, seed):
    """Rows like a tokenized dataset's: prompt ids then answer ids; the answer is a function of the prompt."""
    rnd = random.Random(seed)
    rows = []
    for _ in range(n):
        prompt = [rnd.randrange(3, vocab_size) for _ in range(rnd.randrange(6, 12))]
        answer = [(prompt[0] * 7 + 11) % (vocab_size - 3) + 3, 2]  # a "label word" and </s>
        rows.append({"input_ids": prompt + answer, "loss_mask": [0] * len(prompt) + [1] * len(answer)})
    return rows


def batches(rows, batch_size, pad_id):
    """dicts of lists, padded to the longest row: pads are no targets (and come after every target)."""
    for i in range(0, len(rows) - batch_size + 1, batch_size):
        chunk = rows[i:i + batch_size]
        width = max(len(r["input_ids"]) for r in chunk)
        yield {"input_ids": [r["input_ids"] + [pad_id] * (width - len(r["input_ids"])) for r in chunk],
               "loss_mask": [r["loss_mask"] + [0] * (width - len(r["loss_mask"])) for r in chunk]}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="opt-125m", help="preset or HuggingFace directory")
    ap.add_argument("--layers", type=int, default=0, help="keep the first N blocks of a preset")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--dtype", default="fp32")
    ap.add_argument("--offload", default="none")
    ap.add_argument("--prefetch", type=int, default=1)
    ap.add_argument("--writeback", type=int, default=1)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--lr", type=float, default=1e-5)
    ap.add_argument("--eps", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", help="save the fine-tuned model here (a HuggingFace directory)")
    args = ap.parse_args()

    policy = zo2.Policy(offload=args.offload, prefetch=args.prefetch, writeback=args.writeback)
    model = zo2.load(args.model, device=args.device, dtype=args.dtype, policy=policy, seed=args.seed,
                     layers=args.layers)
    opt = zo2.MeZO(model, lr=args.lr, eps=args.eps, seed=args.seed)
    rows = toy_dataset(model.vocab_size, args.steps * args.batch, args.seed)
    for batch in batches(rows, args.batch, pad_id=1):
        r = opt.step(torch.tensor(batch["input_ids"]), loss_mask=torch.tensor(batch["loss_mask"]))
        print(f"step {r.step:>4} | loss {r.loss:.4f} | g {r.projected_grad:+.3e} | seed {r.seed}")
    held_out = next(batches(toy_dataset(model.vocab_size, args.batch, args.seed + 1), args.batch, pad_id=1))
    score = model.score(torch.tensor(held_out["input_ids"]), torch.tensor(held_out["loss_mask"]))
    print(f"held-out mean log-likelihood of the answers: {score.mean().item():.4f}")
    if args.out:
        model.save(args.out)
        print(f"saved {args.out}")


if __name__ == "__main__":
    main()
