# A fine-tuning run's state on disk: the step logs (CSV, appended and flushed each step), atomic checkpoints (a
# temporary directory fsynced and renamed; the last N kept), and what a resume reads back.
import csv
import json
import os
import pathlib
import shutil

MASK64 = (1 << 64) - 1


def _splitmix64(x):
    x = (x + 0x9E3779B97F4A7C15) & MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & MASK64
    return x ^ (x >> 31)


def step_seed(run_seed, step):
    """core/philox.h's rng::step_seed(run seed, step)."""
    return _splitmix64((run_seed & MASK64) ^ _splitmix64(step + 1))


def fsync_dir(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_tree(path):
    for root, _, files in os.walk(path):
        for f in files:
            with open(os.path.join(root, f), "rb") as fh:
                os.fsync(fh.fileno())
        fsync_dir(root)


class CsvLog:
    """One CSV with a header, appended a row at a time and flushed (fsynced with sync=True) after each row."""

    def __init__(self, path, columns, sync=False):
        self.path, self.columns, self.sync = pathlib.Path(path), list(columns), sync
        new = not self.path.exists()
        self.file = open(self.path, "a", newline="")
        self.writer = csv.writer(self.file)
        if new:
            self.writer.writerow(self.columns)
            self.file.flush()

    def write(self, *values):
        self.writer.writerow(values)
        self.file.flush()
        if self.sync:
            os.fsync(self.file.fileno())

    def close(self):
        self.file.close()


def truncate_csv(path, last_step):
    """Keeps the header and the rows whose step is <= last_step (what a resume from that checkpoint redoes
    after); a half-written last line from a kill is dropped too."""
    path = pathlib.Path(path)
    if not path.exists():
        return
    lines = path.read_text().splitlines(keepends=True)
    if not lines:
        return
    header = lines[0]
    width = len(header.rstrip("\n").split(","))
    kept = [header]
    for line in lines[1:]:
        if not line.endswith("\n"):
            break
        fields = next(csv.reader([line]))
        if len(fields) != width:
            break
        if int(fields[0]) <= last_step:
            kept.append(line)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("".join(kept))
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def write_dir_atomically(final, fill):
    """fill(tmp_dir) writes a directory's contents; it then appears at `final` whole, or not at all."""
    final = pathlib.Path(final)
    tmp = final.with_name(".tmp-" + final.name)
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    fill(tmp)
    fsync_tree(tmp)
    old = final.with_name(".old-" + final.name)
    if final.exists():
        os.replace(final, old)
    os.replace(tmp, final)
    fsync_dir(final.parent)
    if old.exists():
        shutil.rmtree(old)


def recover_dir(final):
    """After a kill between write_dir_atomically's two renames: the previous version is put back."""
    final = pathlib.Path(final)
    old, tmp = final.with_name(".old-" + final.name), final.with_name(".tmp-" + final.name)
    if not final.exists() and old.exists():
        os.replace(old, final)
    for leftover in (old, tmp):
        if leftover.exists():
            shutil.rmtree(leftover)


class Checkpoints:
    """OUT/checkpoints/step-NNNNNNNN/{model/, state.json}; the last `keep` kept."""

    def __init__(self, out, keep):
        self.root = pathlib.Path(out) / "checkpoints"
        self.root.mkdir(parents=True, exist_ok=True)
        self.keep = keep

    def complete(self):
        """Complete checkpoints, oldest first (a temporary directory left by a kill is removed)."""
        for d in self.root.glob(".tmp-*"):
            shutil.rmtree(d)
        for d in self.root.glob(".old-*"):
            shutil.rmtree(d)
        return sorted(d for d in self.root.glob("step-*") if (d / "state.json").is_file())

    def save(self, step, save_model, state):
        def fill(tmp):
            save_model(tmp / "model")
            (tmp / "state.json").write_text(json.dumps(state, indent=1))
        write_dir_atomically(self.root / f"step-{step:08d}", fill)
        for d in self.complete()[:-self.keep]:
            shutil.rmtree(d)

    def latest(self):
        done = self.complete()
        if not done:
            return None, None
        return done[-1] / "model", json.loads((done[-1] / "state.json").read_text())
