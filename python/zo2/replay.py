# python3 -m zo2.replay: the fine-tuned weights rebuilt from the base checkpoint and the run's seed log, with no
# forward pass (each step regenerates its z from the logged seed and applies the logged g and lr).
import argparse
import csv
import json
import pathlib
import sys
import time


class UsageError(Exception):
    pass


def read_log(path):
    """[(step, seed, projected_grad, lr)] from seeds.csv, checked to be the consecutive steps 1..N."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise UsageError(f"--log: {path} not found")
    steps = []
    with open(path, newline="") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header != ["step", "seed", "projected_grad", "lr"]:
            raise UsageError(f"{path}:1: expected the header step,seed,projected_grad,lr, got {header}")
        for line, row in enumerate(reader, start=2):
            try:
                step, seed, g, lr = int(row[0]), int(row[1]), float(row[2]), float(row[3])
            except (ValueError, IndexError):
                raise UsageError(f"{path}:{line}: expected step,seed,projected_grad,lr as numbers, got {row}") from None
            if step != len(steps) + 1:
                raise UsageError(f"{path}:{line}: field 'step': expected {len(steps) + 1}, got {step}")
            steps.append((step, seed, g, lr))
    return steps


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python3 -m zo2.replay", description=__doc__)
    ap.add_argument("--base", required=True, help="the weights the run started from (HF directory or preset)")
    ap.add_argument("--log", required=True, help="the run's seeds.csv (its run.json beside it gives eps, weight "
                    "decay, device, dtype and policy)")
    ap.add_argument("--out", required=True, help="HF directory to write")
    ap.add_argument("--steps", type=int, help="replay the first N steps only")
    args = ap.parse_args(argv)
    try:
        import zo2
        log = read_log(args.log)
        run_json = pathlib.Path(args.log).with_name("run.json")
        if not run_json.is_file():
            raise UsageError(f"--log: {run_json} not found (eps and weight decay are read from it)")
        run = json.loads(run_json.read_text())
        if args.steps is not None:
            if not 0 <= args.steps <= len(log):
                raise UsageError(f"--steps: expected 0..{len(log)}, got {args.steps}")
            log = log[:args.steps]
        policy = zo2.Policy(**run["policy"]) if run.get("policy") else None
        model = zo2.load(args.base, device=run["device"], dtype=run["dtype"], policy=policy, seed=run["seed"])
        t0 = time.perf_counter()
        zo2.replay(model, [{"seed": seed, "projected_grad": g, "lr": lr} for _, seed, g, lr in log],
                   eps=run["eps"], weight_decay=run["weight_decay"])
        seconds = time.perf_counter() - t0
        model.save(args.out)
        print(f"zo2.replay: {len(log)} steps in {seconds:.2f} s, weights in {args.out}", file=sys.stderr)
    except UsageError as e:
        print(f"zo2.replay: {e}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
