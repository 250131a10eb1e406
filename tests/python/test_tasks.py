# MeZO's tasks: loaders on small files in each distribution format, templates (MeZO's strings), sampling (MeZO's
# seeded permutation), errors naming file, line and field, metrics (SQuAD's), candidate scoring and greedy
# decoding against plain loops on a transformers model.
import json
import sys
import pathlib

import numpy as np
import pytest
import torch

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "python"))
from zo2 import metrics  # noqa: E402
from zo2.evaluate import greedy_decode, score_candidates  # noqa: E402
from zo2.tasks import DataError, get_task, load_file, load_splits  # noqa: E402

import task_files as F  # noqa: E402
from tiny_tokenizer import make_tokenizer  # noqa: E402

SUPERGLUE = ["rte", "cb", "boolq", "wsc", "wic", "multirc", "copa", "record"]


def test_sst2_tsv_template_and_sampling(tmp_path, rng):
    rows = F.sst2_tsv(tmp_path / "train.tsv", rng, 20)
    dev_rows = F.sst2_tsv(tmp_path / "dev.tsv", rng, 7)
    task = get_task("sst-2")
    seed = int(rng.integers(0, 1000))
    train, dev, test, notes = load_splits(task, tmp_path, num_train=10, num_dev=5, num_test=4, seed=seed)
    np.random.seed(seed)  # MeZO's sample_subset: temp_seed(seed) then np.random.permutation
    order = np.random.permutation(20).tolist()
    assert [e.data["sentence"] for e in train] == [rows[i][0] for i in order[:10]]
    assert [e.correct[0] for e in dev] == [rows[i][1] for i in order[10:15]]
    np.random.seed(0)
    assert [e.data["sentence"] for e in test] == [dev_rows[i][0] for i in np.random.permutation(7)[:4]]
    assert notes == []
    ex = train[0]
    assert task.verbalize(ex.data, ex.candidates[1]) == f"{ex.data['sentence']} It was great"
    assert task.encode(ex.data) == f"{ex.data['sentence']} It was"
    assert ex.candidates == ["terrible", "great"]


def test_short_files_are_used_whole_and_said(tmp_path, rng):
    F.sst2_tsv(tmp_path / "train.tsv", rng, 9)
    F.sst2_tsv(tmp_path / "dev.tsv", rng, 3)
    train, dev, test, notes = load_splits(get_task("sst2"), tmp_path, num_train=1000, num_dev=500, num_test=1000)
    assert (len(train), len(dev), len(test)) == (6, 3, 3)
    assert "train.tsv has 9 examples" in notes[0] and "dev.tsv has 3 examples" in notes[1]


EXPECTED = {  # MeZO's templates.py, written out
    "rte": lambda d: f"{d['premise']}\nDoes this mean that \"{d['hypothesis']}\" is true? Yes or No?\n",
    "cb": lambda d: f"Suppose {d['premise']} Can we infer that \"{d['hypothesis']}\"? Yes, No, or Maybe?\n",
    "boolq": lambda d: f"{d['passage']} {d['question']}?\n",
    "wsc": lambda d: f"{d['text']}\nIn the previous sentence, does the pronoun \"it\" refer to The cat? Yes or No?\n",
    "wic": lambda d: (f"Does the word \"{d['word']}\" have the same meaning in these two sentences? Yes, No?\n"
                     f"{d['sentence1']}\n{d['sentence2']}\n"),
    "multirc": lambda d: (f"{d['paragraph']}\nQuestion: {d['question']}\nI found this answer \"{d['answer']}\". "
                          "Is that correct? Yes or No?\n"),
}
WORDS = {"rte": ["Yes", "No"], "cb": ["Yes", "No", "Maybe"], "boolq": ["No", "Yes"], "wsc": ["No", "Yes"],
         "wic": ["No", "Yes"], "multirc": ["No", "Yes"]}


@pytest.mark.parametrize("name", SUPERGLUE)
def test_superglue_jsonl(tmp_path, rng, name):
    rows = F.superglue_rows(name, rng, 6)
    F.write_jsonl(tmp_path / "train.jsonl", rows)
    F.write_jsonl(tmp_path / "val.jsonl", F.superglue_rows(name, rng, 3))
    task = get_task(name)
    exs = load_file(task, tmp_path / "train.jsonl")
    per_row = 4 if name == "multirc" else 1
    assert len(exs) == 6 * per_row
    r, ex = rows[0], exs[0]
    if name in EXPECTED:
        assert ex.candidates == WORDS[name]
        assert task.encode(ex.data) == EXPECTED[name](ex.data)
        assert task.verbalize(ex.data, ex.candidates[-1]) == EXPECTED[name](ex.data) + WORDS[name][-1]
    if name == "rte":
        assert ex.correct == [["entailment", "not_entailment"].index(r["label"])]
    if name == "cb":
        assert ex.correct == [["entailment", "contradiction", "neutral"].index(r["label"])]
    if name in ("boolq", "wsc", "wic"):
        assert ex.correct == [int(r["label"])]
    if name == "multirc":
        assert [e.correct[0] for e in exs[:4]] == [a["label"] for q in r["passage"]["questions"] for a in q["answers"]]
    if name == "copa":
        p = r["premise"][:-1] + {"cause": " because ", "effect": " so "}[r["question"]]
        assert task.encode(ex.data) == p
        c = r["choice1"].split(" ")
        assert task.verbalize(ex.data, r["choice1"]) == p + " ".join([c[0].lower()] + c[1:])
        assert ex.correct == [r["label"]] and ex.candidates == [r["choice1"], r["choice2"]]
    if name == "record":
        assert ex.candidates == ["Alice", "Bob", "Paris"]
        assert task.encode(ex.data) == "Alice met Bob in Paris.\n- Bob smiled\n-"
        assert task.verbalize(ex.data, "Bob") == "Alice met Bob in Paris.\n- Bob smiled\n- Bob was there."
        assert ex.candidates[ex.correct[0]] == r["qas"][0]["answers"][0]["text"]
    train, dev, test, notes = load_splits(task, tmp_path, num_train=3, num_dev=2, num_test=2)
    assert (len(train), len(dev), len(test)) == (3, 2, 2)


def test_hf_exports(tmp_path, rng):
    F.write_jsonl(tmp_path / "train.jsonl", [{"sentence": "a fun film", "label": 1, "idx": 0}])
    assert load_file(get_task("sst2"), tmp_path / "train.jsonl")[0].correct == [1]
    F.write_jsonl(tmp_path / "rte.jsonl", [{"premise": "p", "hypothesis": "h", "label": 1, "idx": 0}])
    assert load_file(get_task("rte"), tmp_path / "rte.jsonl")[0].correct == [1]
    F.write_jsonl(tmp_path / "wsc.jsonl", [{"text": "t", "span1_text": "A", "span2_text": "It", "label": 0,
                                            "span1_index": 0, "span2_index": 1, "idx": 0}])
    assert get_task("wsc").encode(load_file(get_task("wsc"), tmp_path / "wsc.jsonl")[0].data).startswith(
        't\nIn the previous sentence, does the pronoun "it" refer to A?')
    F.write_jsonl(tmp_path / "sq.jsonl", [{"id": "1", "title": "T", "context": "C", "question": "Q?",
                                           "answers": {"text": ["a", "b"], "answer_start": [0, 1]}}])
    ex = load_file(get_task("squad"), tmp_path / "sq.jsonl")[0]
    assert get_task("squad").encode(ex.data) == "Title: T\nContext: C\nQuestion: Q?\nAnswer:"
    assert get_task("squad").verbalize(ex.data, ex.answers[0]) == "Title: T\nContext: C\nQuestion: Q?\nAnswer: a\n"
    F.write_jsonl(tmp_path / "dr.jsonl", [{"section_id": "s", "query_id": "q", "passage": "P", "question": "Q?",
                                           "answers_spans": {"spans": ["7"], "types": ["number"]}}])
    ex = load_file(get_task("drop"), tmp_path / "dr.jsonl")[0]
    assert get_task("drop").encode(ex.data) == "Passage: P\nQuestion: Q?\nAnswer:" and ex.answers == ["7"]


def test_squad_and_drop_json(tmp_path, rng):
    F.squad_json(tmp_path / "train-v1.1.json", rng, 5)
    F.squad_json(tmp_path / "dev-v1.1.json", rng, 3)
    train, dev, test, _ = load_splits(get_task("squad"), tmp_path, num_train=3, num_dev=2, num_test=3)
    assert all(e.answers == ["red cat"] and e.data["context"] == "A red cat sat." for e in train + dev + test)
    F.drop_json(tmp_path / "drop_dataset_train.json", rng, 4)
    exs = load_file(get_task("drop"), tmp_path / "drop_dataset_train.json")
    doc = json.loads((tmp_path / "drop_dataset_train.json").read_text())["nfl_1"]["qa_pairs"]
    assert [e.answers for e in exs] == [[q["answer"]["number"]] if q["answer"]["number"] else q["answer"]["spans"]
                                        for q in doc]


def test_errors_name_file_line_field(tmp_path):
    (tmp_path / "train.tsv").write_text("sentence\tlabel\na good one\t1\nbad row\tmaybe\n")
    with pytest.raises(DataError, match=r"train.tsv:3: field 'label': expected one of negative, positive"):
        load_file(get_task("sst2"), tmp_path / "train.tsv")
    (tmp_path / "val.jsonl").write_text('{"premise": "p", "label": "entailment"}\n')
    with pytest.raises(DataError, match=r"val.jsonl:1: field 'hypothesis'"):
        load_file(get_task("rte"), tmp_path / "val.jsonl")
    (tmp_path / "x.jsonl").write_text('{"premise": "p"}\n{oops\n')
    with pytest.raises(DataError, match=r"x.jsonl:2: field '\(json\)'"):
        load_file(get_task("cb"), tmp_path / "x.jsonl")
    (tmp_path / "dev-v1.1.json").write_text(json.dumps({"data": [{"title": "t", "paragraphs": [{"qas": []}]}]}))
    with pytest.raises(DataError, match=r"dev-v1.1.json:data\[0\].paragraphs\[0\]: field 'context'"):
        load_file(get_task("squad"), tmp_path / "dev-v1.1.json")
    with pytest.raises(DataError, match=r"train file': expected one of train-v1.1.json, train.jsonl"):
        load_splits(get_task("squad"), tmp_path)
    with pytest.raises(ValueError, match="--task: unknown task 'sst3'"):
        get_task("sst3")


def test_squad_metrics():
    assert metrics.normalize_answer("The  Red, cat!") == "red cat"
    assert metrics.exact_match("the red cat", ["a cat", "Red cat."]) == 1.0
    # pred {red, cat}, gold {red, cat, sat}: precision 1, recall 2/3
    assert metrics.f1("the red cat", ["red cat sat", "dog"]) == pytest.approx(0.8)
    assert metrics.f1("dog", ["red cat"]) == 0.0
    assert metrics.accuracy([0, 2, 1], [[0], [1], [1, 2]]) == pytest.approx(2 / 3)


class HFLogits:
    """The module's model.logits on a transformers model (the independent reference of the engine's)."""

    def __init__(self, model):
        self.model = model

    def logits(self, ids):
        with torch.no_grad():
            return self.model(ids).logits.float()


def tiny_llama(vocab, seed):
    from transformers import LlamaConfig, LlamaForCausalLM
    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=vocab, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256)
    return LlamaForCausalLM(cfg).eval()


def test_candidate_scoring_is_mean_answer_loglik(tmp_path, rng):
    tok = make_tokenizer()
    model = tiny_llama(len(tok), int(rng.integers(0, 1 << 30)))
    F.superglue_rows("cb", rng, 5)
    F.write_jsonl(tmp_path / "val.jsonl", F.superglue_rows("cb", rng, 5))
    task = get_task("cb")
    exs = load_file(task, tmp_path / "val.jsonl")
    acc, best = score_candidates(HFLogits(model), tok, task, exs, max_len=128, batch=3)
    for ei, ex in enumerate(exs):  # plain loop: one candidate at a time, no padding
        scores = []
        for c in ex.candidates:
            p = tok(task.encode(ex.data))["input_ids"]
            full = tok(task.verbalize(ex.data, c))["input_ids"]
            n = len(full) - len(p)
            with torch.no_grad():
                logp = torch.log_softmax(model(torch.tensor([full])).logits[0].float(), -1)
            scores.append(sum(logp[t - 1, full[t]].item() for t in range(len(full) - n, len(full))) / n)
        assert best[ei] == int(np.argmax(scores))
    assert acc == pytest.approx(np.mean([best[i] in ex.correct for i, ex in enumerate(exs)]))


def test_greedy_decoding_matches_transformers_generate(rng):
    tok = make_tokenizer()
    model = tiny_llama(len(tok), int(rng.integers(0, 1 << 30)))
    prompts = [tok("the cat sat")["input_ids"], tok("a big red dog ran far")["input_ids"]]
    texts = greedy_decode(HFLogits(model), tok, prompts, max_new_tokens=6, batch=2, stop="\x00")
    for p, text in zip(prompts, texts):
        out = model.generate(torch.tensor([p]), max_new_tokens=6, do_sample=False, eos_token_id=tok.eos_token_id,
                             pad_token_id=tok.pad_token_id)
        assert text == tok.decode(out[0, len(p):], skip_special_tokens=True).split("\x00")[0].strip()
