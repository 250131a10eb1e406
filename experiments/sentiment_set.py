#!/usr/bin/env python3
"""Writes an SST-2-format sentiment set (GLUE's train.tsv / dev.tsv: `sentence<TAB>label`, 1 = positive), made from
word lists and sentence templates by a seeded generator, lower-cased and space-tokenised as SST-2 is.

A sentence says something about an aspect of a film with a positive or negative adjective, sometimes intensified;
a third of them are negated ("was not moving": the label flips) and a quarter are contrasts ("X , but Y": the label
is Y's), so that the label is not a bag-of-words vote and a model's zero-shot accuracy leaves room to learn.
Same --seed, same files.

    python3 experiments/sentiment_set.py --out data/sentiment --seed 0 [--train 2000 --dev 1000]
"""
import argparse
import pathlib

import numpy as np

SUBJECTS = ["the movie", "the film", "the plot", "the acting", "the script", "the ending", "the soundtrack",
            "the dialogue", "the cast", "the direction", "the story", "the pacing", "the cinematography",
            "this picture", "the lead performance", "the humor", "the final act", "the screenplay"]
POSITIVE = ["moving", "charming", "brilliant", "delightful", "gripping", "witty", "beautiful", "powerful",
            "engaging", "heartfelt", "clever", "touching", "stunning", "funny", "superb", "memorable", "fresh"]
NEGATIVE = ["dull", "tedious", "clumsy", "boring", "shallow", "lifeless", "predictable", "awful", "bland",
            "messy", "tiresome", "forgettable", "flat", "painful", "incoherent", "stale", "irritating"]
INTENSIFIERS = ["", "", "", "very ", "really ", "truly ", "utterly ", "quite ", "remarkably "]
VERBS = ["is", "was", "feels", "seemed", "remains", "turns out to be"]
NEGATED = {"is": "is not", "was": "was not", "feels": "does not feel", "seemed": "did not seem",
           "remains": "does not remain", "turns out to be": "does not turn out to be"}


def clause(rng, positive, negated):
    """A clause whose sentiment is `positive` (after the negation, when negated)."""
    adjective_positive = positive != negated
    adjective = str(rng.choice(POSITIVE if adjective_positive else NEGATIVE))
    verb = str(rng.choice(VERBS))
    return f"{rng.choice(SUBJECTS)} {NEGATED[verb] if negated else verb} {rng.choice(INTENSIFIERS)}{adjective}"


def sentence(rng):
    label = int(rng.integers(0, 2))
    negated = rng.random() < 1 / 3
    text = clause(rng, bool(label), negated)
    if rng.random() < 0.25:  # "first , but second": the second clause carries the label
        first = clause(rng, not label, bool(rng.random() < 1 / 3))
        text = f"{first} , but {text}"
    return text + " .", label


def write(path, rng, n):
    rows = [sentence(rng) for _ in range(n)]
    path.write_text("sentence\tlabel\n" + "".join(f"{s}\t{l}\n" for s, l in rows))
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--train", type=int, default=2000)
    ap.add_argument("--dev", type=int, default=1000)
    args = ap.parse_args(argv)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(args.seed)
    train = write(out / "train.tsv", rng, args.train)
    dev = write(out / "dev.tsv", rng, args.dev)
    for name, rows in (("train.tsv", train), ("dev.tsv", dev)):
        print(f"{out / name}: {len(rows)} sentences, {sum(l for _, l in rows)} positive")


if __name__ == "__main__":
    main()
