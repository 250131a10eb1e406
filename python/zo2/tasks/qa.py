# The generation tasks of MeZO's suite: SQuAD (v1.1 JSON or a `datasets` export) and DROP (its JSON or a
# `datasets` export), trained as LM loss on the first gold answer and evaluated by greedy decoding with F1 / EM.
from . import templates as T
from .example import Example
from .errors import DataError
from .glue_superglue import Task
from .readers import Row


def _strings(row, field, value):
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise DataError(row.file, row.where, field, "a list of strings", value)
    return value


class Squad(Task):
    name = "squad"
    kind = "generate"
    train_files = ("train-v1.1.json", "train.jsonl")
    valid_files = ("dev-v1.1.json", "validation.jsonl", "dev.jsonl")
    encode = staticmethod(T.squad_encode)
    verbalize = staticmethod(T.squad_verbalize)

    def parse(self, row):  # `datasets` export: answers = {text: [...], answer_start: [...]}
        answers = _strings(row, "answers.text", row.get("answers.text", list))
        d = {"title": row.get("title", str), "context": row.get("context", str), "question": row.get("question", str)}
        return [Example(d, answers=answers)]

    def parse_document(self, doc, path):
        if not isinstance(doc, dict) or not isinstance(doc.get("data"), list):
            raise DataError(path, None, "data", "SQuAD's {\"data\": [articles]}")
        out = []
        for ai, article in enumerate(doc["data"]):
            art = Row(article, path, f"data[{ai}]")
            title = art.get("title", str)
            for pi, par in enumerate(art.get("paragraphs", list)):
                p = Row(par, path, f"data[{ai}].paragraphs[{pi}]")
                context = p.get("context", str)
                for qi, qa in enumerate(p.get("qas", list)):
                    q = Row(qa, path, f"data[{ai}].paragraphs[{pi}].qas[{qi}]")
                    answers = [Row(a, path, q.where).get("text", str) for a in q.get("answers", list)]
                    if answers:  # SQuAD v2's unanswerable questions have none; MeZO runs v1's
                        out.append(Example({"title": title, "context": context, "question": q.get("question", str)},
                                           answers=answers, source=f"{path}:{q.where}"))
        return out


def drop_answer(row, answer, field):
    """DROP's answer as text: the number, else the spans, else the date's non-empty parts."""
    a = Row(answer, row.file, row.where)
    number = a.get("number", str, expected="a string") if "number" in answer else ""
    if number:
        return [number]
    spans = _strings(row, f"{field}.spans", answer.get("spans", []))
    if spans:
        return spans
    date = answer.get("date", {})
    parts = [str(date.get(k, "")) for k in ("month", "day", "year")] if isinstance(date, dict) else []
    text = " ".join(p for p in parts if p)
    if not text:
        raise DataError(row.file, row.where, field, "a number, spans or a date")
    return [text]


class Drop(Task):
    name = "drop"
    kind = "generate"
    train_files = ("drop_dataset_train.json", "train.jsonl")
    valid_files = ("drop_dataset_dev.json", "validation.jsonl", "dev.jsonl")
    encode = staticmethod(T.drop_encode)
    verbalize = staticmethod(T.drop_verbalize)

    def parse(self, row):  # `datasets` export: answers_spans = {spans: [...], types: [...]}
        answers = _strings(row, "answers_spans.spans", row.get("answers_spans.spans", list))
        if not answers:
            raise DataError(row.file, row.where, "answers_spans.spans", "at least one answer")
        return [Example({"context": row.get("passage", str), "question": row.get("question", str)}, answers=answers)]

    def parse_document(self, doc, path):
        if not isinstance(doc, dict):
            raise DataError(path, None, "(document)", "DROP's {passage_id: {passage, qa_pairs}}")
        out = []
        for pid, item in doc.items():
            r = Row(item, path, pid)
            passage = r.get("passage", str)
            for qi, qa in enumerate(r.get("qa_pairs", list)):
                q = Row(qa, path, f"{pid}.qa_pairs[{qi}]")
                answers = drop_answer(q, q.get("answer", dict), "answer")
                out.append(Example({"context": passage, "question": q.get("question", str)}, answers=answers,
                                   source=f"{path}:{q.where}"))
        return out
