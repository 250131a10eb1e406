# The classification and multiple-choice tasks of MeZO's suite: SST-2 (GLUE TSV), RTE, CB, BoolQ, WSC, WiC,
# MultiRC, COPA, ReCoRD (SuperGLUE JSON lines, or `datasets` exports of them as JSON lines).
from . import templates as T
from .example import Example, label_index
from .errors import DataError


class Task:
    """name, kind ('classify': label words, 'choice': per-example candidates, 'generate'), files and parser."""

    name = ""
    kind = "classify"
    train_files = ("train.jsonl",)
    valid_files = ("val.jsonl", "validation.jsonl", "dev.jsonl")
    label_words = ()

    def encode(self, d):
        raise NotImplementedError

    def verbalize(self, d, cand):
        return self.encode(d) + cand

    def parse(self, row):
        """Examples from one row (MultiRC's and ReCoRD's originals nest several in one line)."""
        raise NotImplementedError


class Sst2(Task):
    name = "sst2"
    train_files = ("train.tsv", "train.jsonl")
    valid_files = ("dev.tsv", "validation.jsonl", "dev.jsonl")
    label_words = ("terrible", "great")
    encode = staticmethod(T.sst2_encode)
    verbalize = staticmethod(T.sst2_verbalize)

    def parse(self, row):
        d = {"sentence": row.get("sentence", str).strip()}
        return [Example(d, list(self.label_words), [label_index(row, "label", ("negative", "positive"))])]


def _classified(name, encode, words, label_names, fields):
    """A task whose prompt reads string fields and whose label picks one of MeZO's label words."""

    class Classified(Task):
        label_words = words

        def parse(self, row):
            d = {f: row.get(f, str) for f in fields}
            return [Example(d, list(words), [label_index(row, "label", label_names)])]

    Classified.name = name
    Classified.encode = staticmethod(encode)
    return Classified


Rte = _classified("rte", T.rte_encode, ("Yes", "No"), ("entailment", "not_entailment"), ("premise", "hypothesis"))
Cb = _classified("cb", T.cb_encode, ("Yes", "No", "Maybe"), ("entailment", "contradiction", "neutral"),
                 ("premise", "hypothesis"))
Boolq = _classified("boolq", T.boolq_encode, ("No", "Yes"), ("false", "true"), ("passage", "question"))
Wic = _classified("wic", T.wic_encode, ("No", "Yes"), ("false", "true"), ("word", "sentence1", "sentence2"))


class Wsc(Task):
    name = "wsc"
    label_words = ("No", "Yes")
    encode = staticmethod(T.wsc_encode)

    def parse(self, row):
        target = row.data.get("target")
        if isinstance(target, dict):  # SuperGLUE's original: the spans under "target"
            span1, span2 = row.get("target.span1_text", str), row.get("target.span2_text", str)
        else:  # the `datasets` export flattens them
            span1, span2 = row.get("span1_text", str), row.get("span2_text", str)
        d = {"text": row.get("text", str), "span1_text": span1, "span2_text": span2}
        return [Example(d, list(self.label_words), [label_index(row, "label", ("false", "true"))])]


class MultiRc(Task):
    name = "multirc"
    label_words = ("No", "Yes")
    encode = staticmethod(T.multirc_encode)

    def parse(self, row):
        passage = row.data.get("passage")
        if not isinstance(passage, dict):  # `datasets` export: one (paragraph, question, answer) per line
            d = {f: row.get(f, str) for f in ("paragraph", "question", "answer")}
            return [Example(d, list(self.label_words), [label_index(row, "label", ("false", "true"))])]
        text = row.get("passage.text", str)
        out = []
        for qi, q in enumerate(row.get("passage.questions", list)):
            for ai, a in enumerate(q.get("answers", []) if isinstance(q, dict) else []):
                where = f"passage.questions[{qi}].answers[{ai}]"
                if not isinstance(q.get("question"), str) or not isinstance(a, dict) or not isinstance(
                        a.get("text"), str) or a.get("label") not in (0, 1, True, False):
                    raise DataError(row.file, row.where, where, "question text, answer text and label 0/1", a)
                out.append(Example({"paragraph": text, "question": q["question"], "answer": a["text"]},
                                   list(self.label_words), [int(a["label"])]))
        if not out:
            raise DataError(row.file, row.where, "passage.questions", "at least one question with answers")
        return out


class Copa(Task):
    name = "copa"
    kind = "choice"
    encode = staticmethod(T.copa_encode)
    verbalize = staticmethod(T.copa_verbalize)

    def parse(self, row):
        question = row.get("question", (str, int))
        if isinstance(question, int):  # `datasets` export: ClassLabel index
            question = ("cause", "effect")[question] if question in (0, 1) else question
        if question not in ("cause", "effect"):
            raise DataError(row.file, row.where, "question", "'cause' or 'effect'", question)
        d = {"premise": row.get("premise", str), "question": question}
        choices = [row.get("choice1", str), row.get("choice2", str)]
        return [Example(d, choices, [label_index(row, "label", ("choice1", "choice2"))])]


class Record(Task):
    name = "record"
    kind = "choice"
    encode = staticmethod(T.record_encode)
    verbalize = staticmethod(T.record_verbalize)

    def parse(self, row):
        passage = row.data.get("passage")
        if isinstance(passage, dict):  # SuperGLUE's original: entity offsets, several queries a line
            text = row.get("passage.text", str)
            entities = []
            for i, e in enumerate(row.get("passage.entities", list)):
                if not isinstance(e, dict) or not isinstance(e.get("start"), int) or not isinstance(e.get("end"), int):
                    raise DataError(row.file, row.where, f"passage.entities[{i}]", "start and end offsets", e)
                entities.append(text[e["start"]:e["end"] + 1])
            out = []
            for qi, q in enumerate(row.get("qas", list)):
                if not isinstance(q, dict) or not isinstance(q.get("query"), str):
                    raise DataError(row.file, row.where, f"qas[{qi}].query", "a string", q)
                answers = [a.get("text") for a in q.get("answers", []) if isinstance(a, dict)]
                out.append(self._example(row, text, q["query"], entities, answers))
            return out
        entities = row.get("entities", list)
        answers = row.get("answers", list)
        return [self._example(row, row.get("passage", str), row.get("query", str), entities, answers)]

    def _example(self, row, passage, query, entities, answers):
        cands = list(dict.fromkeys(str(e) for e in entities))
        correct = [cands.index(a) for a in answers if a in cands]
        if not correct and answers:
            raise DataError(row.file, row.where, "answers", "answers among the passage's entities", answers)
        return Example({"passage": passage, "query": query}, cands, correct, answers=list(answers))
