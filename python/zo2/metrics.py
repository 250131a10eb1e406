# MeZO's metrics: accuracy for candidate scoring, SQuAD's normalised exact match and token F1 (max over golds).
import collections
import re
import string


def normalize_answer(s):
    """SQuAD v1.1's evaluation script: lower case, no punctuation, no articles, single spaces."""
    s = s.lower()
    s = "".join(ch for ch in s if ch not in set(string.punctuation))
    s = re.sub(r"\b(a|an|the)\b", " ", s)
    return " ".join(s.split())


def exact_match(prediction, golds):
    return float(max(normalize_answer(prediction) == normalize_answer(g) for g in golds))


def _f1(prediction, gold):
    p, g = normalize_answer(prediction).split(), normalize_answer(gold).split()
    common = collections.Counter(p) & collections.Counter(g)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision, recall = same / len(p), same / len(g)
    return 2 * precision * recall / (precision + recall)


def f1(prediction, golds):
    return max(_f1(prediction, g) for g in golds)


def accuracy(predictions, corrects):
    """predictions: chosen candidate index per example; corrects: the list of correct indices per example."""
    if not predictions:
        raise ValueError("accuracy of no examples")
    return sum(p in c for p, c in zip(predictions, corrects)) / len(predictions)
