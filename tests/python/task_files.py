# Writes small task files in their distribution formats (GLUE TSV, SuperGLUE JSON lines, SQuAD / DROP JSON, HF
# `datasets` JSON-lines exports) with random content, for the task tests.
import json

WORDS = "the movie was fun dull bright dark cat dog ran sat big small red blue happy sad film plot actor".split()


def sentence(rng, n=None):
    n = n or int(rng.integers(3, 8))
    return " ".join(rng.choice(WORDS, n)).capitalize() + "."


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def sst2_tsv(path, rng, n):
    rows = [(sentence(rng), int(rng.integers(0, 2))) for _ in range(n)]
    path.write_text("sentence\tlabel\n" + "".join(f"{s}\t{l}\n" for s, l in rows))
    return rows


def superglue_rows(task, rng, n):
    """Rows of SuperGLUE's original JSONL for `task`."""
    out = []
    for i in range(n):
        s = lambda: sentence(rng)  # noqa: E731
        b = bool(rng.integers(0, 2))
        if task == "rte":
            out.append({"premise": s(), "hypothesis": s(), "label": ["entailment", "not_entailment"][b], "idx": i})
        elif task == "cb":
            out.append({"premise": s(), "hypothesis": s(), "idx": i,
                        "label": ["entailment", "contradiction", "neutral"][int(rng.integers(0, 3))]})
        elif task == "boolq":
            out.append({"question": s()[:-1].lower(), "passage": s(), "label": b, "idx": i})
        elif task == "wsc":
            out.append({"text": s(), "target": {"span1_text": "The cat", "span1_index": 0, "span2_text": "It",
                                                "span2_index": 3}, "label": b, "idx": i})
        elif task == "wic":
            out.append({"word": str(rng.choice(WORDS)), "sentence1": s(), "sentence2": s(), "label": b, "idx": i,
                        "start1": 0, "end1": 1, "start2": 0, "end2": 1})
        elif task == "multirc":
            qs = [{"question": s(), "answers": [{"text": s(), "label": int(rng.integers(0, 2))} for _ in range(2)]}
                  for _ in range(2)]
            out.append({"idx": i, "passage": {"text": s(), "questions": qs}})
        elif task == "copa":
            out.append({"premise": s(), "choice1": s(), "choice2": s(), "question": ["cause", "effect"][b],
                        "label": int(rng.integers(0, 2)), "idx": i})
        elif task == "record":
            text = "Alice met Bob in Paris.\n@highlight\nBob smiled"
            ents = [{"start": 0, "end": 4}, {"start": 10, "end": 12}, {"start": 17, "end": 21}]
            ans = ["Alice", "Bob", "Paris"][int(rng.integers(0, 3))]
            out.append({"idx": i, "passage": {"text": text, "entities": ents},
                        "qas": [{"query": "@placeholder was there.", "answers": [{"start": 0, "end": 0, "text": ans}],
                                 "idx": 0}]})
    return out


def squad_json(path, rng, n):
    qas = [{"id": str(i), "question": sentence(rng)[:-1] + "?", "answers": [{"text": "red cat", "answer_start": 0}]}
           for i in range(n)]
    path.write_text(json.dumps({"version": "1.1", "data": [{"title": "Cats", "paragraphs": [
        {"context": "A red cat sat.", "qas": qas}]}]}))


def drop_json(path, rng, n):
    pairs = [{"question": sentence(rng)[:-1] + "?", "query_id": str(i),
              "answer": {"number": str(int(rng.integers(1, 9))) if i % 2 else "", "spans": [] if i % 2 else ["Bob"],
                         "date": {"day": "", "month": "", "year": ""}}} for i in range(n)]
    path.write_text(json.dumps({"nfl_1": {"passage": "Bob ran 3 yards.", "qa_pairs": pairs}}))
