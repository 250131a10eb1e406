# MeZO's task suite: find a task's files in a local folder, read them in their distribution format, and sample
# 1,000 train / 500 dev / 1,000 test examples as MeZO does (seeded permutations; a smaller file is used whole).
import pathlib

import numpy as np

from .errors import DataError
from .example import Example
from .glue_superglue import Boolq, Cb, Copa, MultiRc, Record, Rte, Sst2, Task, Wic, Wsc
from .qa import Drop, Squad
from .readers import read_json, read_jsonl, read_tsv

TASKS = {t.name: t for t in (Sst2, Rte, Cb, Boolq, Wsc, Wic, MultiRc, Copa, Record, Squad, Drop)}

__all__ = ["TASKS", "DataError", "Example", "Task", "get_task", "find_file", "load_file", "load_splits"]


def get_task(name):
    key = name.lower().replace("-", "").replace("_", "")
    if key not in TASKS:
        raise ValueError(f"--task: unknown task '{name}' (expected one of {', '.join(TASKS)})")
    return TASKS[key]()


def find_file(task, folder, split):
    """The first of the task's known file names for `split` ('train' or 'valid') in folder."""
    folder = pathlib.Path(folder)
    names = task.train_files if split == "train" else task.valid_files
    for name in names:
        if (folder / name).is_file():
            return folder / name
    if not folder.is_dir():
        raise DataError(folder, None, "--data", "a folder holding the task's files")
    raise DataError(folder, None, f"{split} file", f"one of {', '.join(names)} in the folder "
                    "(the .arrow files of datasets.save_to_disk are not read: export with Dataset.to_json)")


def load_file(task, path):
    """Every example of one file, in file order."""
    path = pathlib.Path(path)
    if path.suffix == ".json":
        return task.parse_document(read_json(path), path)
    rows = read_tsv(path) if path.suffix == ".tsv" else read_jsonl(path)
    out = []
    for row in rows:
        for ex in task.parse(row):
            ex.source = ex.source or f"{path}:{row.where}"
            out.append(ex)
    return out


def _subset(n, seed, count):
    """MeZO's sample_subset: the first `count` of a permutation seeded by `seed` (numpy's legacy generator)."""
    return np.random.RandomState(seed).permutation(n).tolist()[:count]


def load_splits(task, folder, num_train=1000, num_dev=500, num_test=1000, seed=0):
    """(train, dev, test, notes): train and dev from the train file, test from the validation file.

    As MeZO: train and dev are one seeded permutation of the train file (train first, dev next), test the first
    num_test of a permutation of the validation file with seed 0. A file with fewer rows than asked is used whole
    (dev takes its share of a short train file), and a note says so."""
    notes = []
    train_path, valid_path = find_file(task, folder, "train"), find_file(task, folder, "valid")
    train_all, valid_all = load_file(task, train_path), load_file(task, valid_path)
    if not train_all:
        raise DataError(train_path, None, "(rows)", "at least one example")
    if not valid_all and num_test > 0:
        raise DataError(valid_path, None, "(rows)", "at least one example")
    n = len(train_all)
    if n < num_train + num_dev:
        dev_n = int(round(n * num_dev / (num_train + num_dev))) if num_train + num_dev else 0
        notes.append(f"{train_path} has {n} examples, fewer than {num_train} train + {num_dev} dev: "
                     f"all used, {n - dev_n} train and {dev_n} dev")
        num_train, num_dev = n - dev_n, dev_n
    order = _subset(n, seed, num_train + num_dev)
    train = [train_all[i] for i in order[:num_train]]
    dev = [train_all[i] for i in order[num_train:]]
    if len(valid_all) < num_test:
        notes.append(f"{valid_path} has {len(valid_all)} examples, fewer than {num_test} test: all used")
    test = [valid_all[i] for i in _subset(len(valid_all), 0, num_test)]
    return train, dev, test, notes
