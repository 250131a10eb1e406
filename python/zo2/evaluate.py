# MeZO's evaluation on the engine's logits: candidate scoring by the mean log-likelihood of each candidate's answer
# tokens (accuracy), and greedy decoding for SQuAD / DROP (F1, exact match). Decoding runs a full forward per new
# token (no KV cache in the module yet): correct, and slower by the prompt length.
import torch

from . import metrics
from .task_batches import encode_answer, pad_batch, pad_id_of, tokenize


def answer_logprobs(model, encoded, pad_id, batch):
    """Mean log-probability per answer token of each sequence, in the engine's float32 logits."""
    out = []
    for i in range(0, len(encoded), batch):
        ids, mask = pad_batch(encoded[i:i + batch], pad_id)
        # log-softmax and gather where the logits are: copying [B, T, vocab] to the host per batch would cost more
        # than the forward on a GPU; on the CPU these are the same operations as before
        logits = model.logits(ids).float()
        logp = torch.log_softmax(logits[:, :-1], dim=-1).gather(-1, ids[:, 1:, None].to(logits.device))[..., 0].cpu()
        m = mask[:, 1:].to(logp.dtype)
        out.extend(((logp * m).sum(1) / m.sum(1)).tolist())
    return out


def score_candidates(model, tokenizer, task, examples, max_len, batch):
    """(accuracy, predictions): each example's prediction is its candidate of highest mean answer log-probability."""
    encoded, owners = [], []
    for ei, ex in enumerate(examples):
        if not ex.correct:
            continue  # e.g. ReCoRD rows whose answers are not given
        for cand in ex.candidates:
            encoded.append(encode_answer(tokenizer, task, ex, cand, max_len))
            owners.append(ei)
    scores = answer_logprobs(model, encoded, pad_id_of(tokenizer), batch)
    best = {}
    k = 0
    for ei, ex in enumerate(examples):
        if not ex.correct:
            continue
        s = scores[k:k + len(ex.candidates)]
        k += len(ex.candidates)
        best[ei] = max(range(len(s)), key=lambda j: s[j])
    kept = sorted(best)
    return metrics.accuracy([best[e] for e in kept], [examples[e].correct for e in kept]), best


def greedy_decode(model, tokenizer, prompts, max_new_tokens, batch, stop="\n"):
    """Greedy continuations of token-id prompts, stopped at `stop` in the text or the end-of-sequence token."""
    pad_id, eos = pad_id_of(tokenizer), tokenizer.eos_token_id
    texts = []
    for i in range(0, len(prompts), batch):
        group = prompts[i:i + batch]
        lens = [len(p) for p in group]
        ids = torch.full((len(group), max(lens) + max_new_tokens), pad_id, dtype=torch.long)
        for r, p in enumerate(group):
            ids[r, :len(p)] = torch.tensor(p, dtype=torch.long)
        new = [[] for _ in group]
        done = [False] * len(group)
        for _ in range(max_new_tokens):
            width = max(lens)
            logits = model.logits(ids[:, :width]).cpu()
            for r in range(len(group)):
                if done[r]:
                    continue
                tok = int(torch.argmax(logits[r, lens[r] - 1]))
                if eos is not None and tok == eos:
                    done[r] = True
                    continue
                new[r].append(tok)
                ids[r, lens[r]] = tok
                lens[r] += 1
                if stop in tokenizer.decode(new[r]):
                    done[r] = True
            if all(done):
                break
        texts.extend(tokenizer.decode(n).split(stop)[0].strip() for n in new)
    return texts


def generate_scores(model, tokenizer, task, examples, max_len, batch, max_new_tokens):
    """(f1, em, predictions) of greedy answers against each example's gold answers (max over golds, SQuAD's
    normalisation)."""
    prompts = [tokenize(tokenizer, task.encode(ex.data))[-(max_len - max_new_tokens):] for ex in examples]
    preds = greedy_decode(model, tokenizer, prompts, max_new_tokens, batch)
    f1 = sum(metrics.f1(p, ex.answers) for p, ex in zip(preds, examples)) / len(examples)
    em = sum(metrics.exact_match(p, ex.answers) for p, ex in zip(preds, examples)) / len(examples)
    return f1, em, preds


def evaluate(model, tokenizer, task, examples, max_len, batch, max_new_tokens=50):
    """{metric: value} for one split: accuracy for candidate tasks, f1 and em for generation tasks."""
    if task.kind == "generate":
        f1, em, _ = generate_scores(model, tokenizer, task, examples, max_len, batch, max_new_tokens)
        return {"f1": f1, "em": em}
    acc, _ = score_candidates(model, tokenizer, task, examples, max_len, batch)
    return {"accuracy": acc}
