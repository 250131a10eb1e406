# MeZO's prompt templates and label words (MeZO large_models/templates.py): encode() is the prompt without the
# answer, verbalize() the prompt followed by one candidate; the answer tokens are what verbalize adds.


def sst2_encode(d):
    return f"{d['sentence']} It was"


def sst2_verbalize(d, cand):
    return f"{d['sentence']} It was {cand}"


def rte_encode(d):
    return f"{d['premise']}\nDoes this mean that \"{d['hypothesis']}\" is true? Yes or No?\n"


def cb_encode(d):
    return f"Suppose {d['premise']} Can we infer that \"{d['hypothesis']}\"? Yes, No, or Maybe?\n"


def boolq_encode(d):
    return f"{d['passage']} {d['question']}?\n"


def wsc_encode(d):
    return (f"{d['text']}\nIn the previous sentence, does the pronoun \"{d['span2_text'].lower()}\" refer to "
            f"{d['span1_text']}? Yes or No?\n")


def wic_encode(d):
    return (f"Does the word \"{d['word']}\" have the same meaning in these two sentences? Yes, No?\n"
            f"{d['sentence1']}\n{d['sentence2']}\n")


def multirc_encode(d):
    return (f"{d['paragraph']}\nQuestion: {d['question']}\nI found this answer \"{d['answer']}\". "
            f"Is that correct? Yes or No?\n")


def append(encode):
    """The verbalizer of the templates whose answer is a label word right after the prompt."""
    return lambda d, cand: encode(d) + cand


def copa_encode(d):
    premise = d["premise"].rstrip()
    if premise.endswith("."):
        premise = premise[:-1]
    return premise + {"effect": " so ", "cause": " because "}[d["question"]]


def copa_verbalize(d, cand):
    words = cand.split(" ")
    if words[0] != "I":  # MeZO's "correct" capitalisation: the choice continues the sentence
        words[0] = words[0].lower()
    return copa_encode(d) + " ".join(words)


def record_passage(d):
    return d["passage"].replace("@highlight\n", "- ")


def record_encode(d):
    return f"{record_passage(d)}\n-"


def record_verbalize(d, cand):
    return f"{record_passage(d)}\n- {d['query'].replace('@placeholder', cand)}"


def squad_encode(d):
    return f"Title: {d['title']}\nContext: {d['context']}\nQuestion: {d['question'].strip()}\nAnswer:"


def squad_verbalize(d, answer):
    return f"{squad_encode(d)} {answer}\n"


def drop_encode(d):
    return f"Passage: {d['context']}\nQuestion: {d['question'].strip()}\nAnswer:"


def drop_verbalize(d, answer):
    return f"{drop_encode(d)} {answer}\n"
