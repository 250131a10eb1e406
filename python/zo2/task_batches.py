# Token batches for MeZO's objective and evaluation: a prompt followed by a candidate, with a loss mask on the
# candidate's tokens (MeZO's option tokens: what verbalize() adds to encode()), left-truncated to the length limit.
import torch


class Encoded:
    """One sequence: its ids and how many of its last tokens are the answer."""

    __slots__ = ("ids", "answer_len")

    def __init__(self, ids, answer_len):
        self.ids, self.answer_len = ids, answer_len


def tokenize(tokenizer, text):
    return list(tokenizer(text)["input_ids"])


def encode_answer(tokenizer, task, ex, cand, max_len):
    """prompt + candidate, MeZO's way: the answer tokens are len(tokens(verbalize)) - len(tokens(encode))."""
    prompt = tokenize(tokenizer, task.encode(ex.data))
    full = tokenize(tokenizer, task.verbalize(ex.data, cand))
    answer_len = max(1, len(full) - len(prompt))
    if answer_len >= max_len:
        raise ValueError(f"{ex.source}: the answer '{cand[:40]}' is {answer_len} tokens, at least --seq {max_len}")
    return Encoded(full[-max_len:], answer_len)


def train_target(task, ex):
    """The candidate the loss is on: the correct one (the first, for ReCoRD's several), or the first gold answer."""
    if task.kind == "generate":
        return ex.answers[0]
    return ex.candidates[ex.correct[0]]


def pad_batch(encoded, pad_id):
    """(input_ids [B,T] int64, loss_mask [B,T] bool): right-padded (a causal model's real positions do not see the
    padding), the mask on each row's answer tokens."""
    width = max(len(e.ids) for e in encoded)
    ids = torch.full((len(encoded), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(encoded), width), dtype=torch.bool)
    for r, e in enumerate(encoded):
        n = len(e.ids)
        ids[r, :n] = torch.tensor(e.ids, dtype=torch.long)
        mask[r, n - e.answer_len:n] = True
    return ids, mask


def pad_id_of(tokenizer):
    for tid in (tokenizer.pad_token_id, tokenizer.eos_token_id):
        if tid is not None:
            return int(tid)
    return 0
