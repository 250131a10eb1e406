# An independent Python implementation of the z contract (core/philox.h) and of a plain MeZO step on a
# transformers model: the reference zo2 train is checked against.
import numpy as np
import torch

MASK32 = np.uint64(0xFFFFFFFF)
MASK64 = (1 << 64) - 1


def splitmix64(x):
    x = (x + 0x9E3779B97F4A7C15) & MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & MASK64
    return x ^ (x >> 31)


def step_seed(run_seed, step):
    return splitmix64(run_seed ^ splitmix64(step + 1))


def philox4x32_10(c0, c1, c2, c3, k0, k1):
    """Vectorised Philox4x32-10 on uint64 arrays holding 32-bit values."""
    m0, m1 = np.uint64(0xD2511F53), np.uint64(0xCD9E8D57)
    w0, w1 = np.uint64(0x9E3779B9), np.uint64(0xBB67AE85)
    k0, k1 = np.uint64(k0), np.uint64(k1)
    for _ in range(10):
        p0, p1 = m0 * c0, m1 * c2
        c0, c1, c2, c3 = (p1 >> np.uint64(32)) ^ c1 ^ k0, p1 & MASK32, (p0 >> np.uint64(32)) ^ c3 ^ k1, p0 & MASK32
        k0, k1 = (k0 + w0) & MASK32, (k1 + w1) & MASK32
    return c0, c1, c2, c3


def normals(seed, first, count):
    """z for global indices first .. first+count-1 (float32)."""
    groups = np.arange(first // 4, (first + count - 1) // 4 + 1, dtype=np.uint64)
    zero = np.zeros_like(groups)
    w = philox4x32_10(groups & MASK32, groups >> np.uint64(32), zero, zero, seed & 0xFFFFFFFF, seed >> 32)

    def uniform(word):
        return ((word >> np.uint64(9)).astype(np.float32) + np.float32(0.5)) * np.float32(1.0 / 8388608.0)

    out = np.empty((groups.size, 4), dtype=np.float32)
    for a, b in ((0, 1), (2, 3)):
        r = np.sqrt(np.float32(-2.0) * np.log(uniform(w[a])))
        angle = np.float32(2.0 * np.pi) * uniform(w[b])
        out[:, a], out[:, b] = r * np.cos(angle), r * np.sin(angle)
    start = first - int(groups[0]) * 4
    return out.reshape(-1)[start:start + count]


def trainable(model):
    """(name, parameter, decay) in checkpoint order, a tied head counted once (it is embed_tokens).

    Checkpoint order is the resident group (everything outside the decoder layers, in named_parameters order: OPT's
    embeddings, projections and final norm; LLaMA's embed_tokens, norm and untied lm_head), then the layers. OPT's
    named_parameters already list its resident group first; LLaMA's put norm and lm_head after the layers.
    Weight decay skips biases and norms (OPT's layer_norm, LLaMA's RMSNorm *norm.weight)."""
    out = []
    for name, p in model.named_parameters():  # named_parameters skips a tied lm_head
        decay = not (name.endswith(".bias") or "norm" in name)
        out.append((name, p, decay))
    return [t for t in out if ".layers." not in t[0]] + [t for t in out if ".layers." in t[0]]


def mezo_step(model, ids, run_seed, step, lr, eps, weight_decay, labels=None):
    """One plain MeZO step; returns (loss+, loss-, g). labels (HF's, -100 where no target): default the ids."""
    seed = step_seed(run_seed, step)
    params = trainable(model)
    zs, index = [], 0
    for _, p, _ in params:
        zs.append(torch.from_numpy(normals(seed, index, p.numel())).view_as(p))
        index += p.numel()
    inputs = torch.from_numpy(ids)
    labels = inputs if labels is None else torch.as_tensor(labels)
    with torch.no_grad():
        for (_, p, _), z in zip(params, zs):
            p.add_(z, alpha=eps)
        plus = model(inputs, labels=labels).loss.item()
        for (_, p, _), z in zip(params, zs):
            p.add_(z, alpha=-2 * eps)
        minus = model(inputs, labels=labels).loss.item()
        for (_, p, _), z in zip(params, zs):
            p.add_(z, alpha=eps)
        g = (plus - minus) / (2 * eps)
        for (_, p, decay), z in zip(params, zs):
            p.sub_(lr * (g * z + (weight_decay * p if decay else 0)))
    return plus, minus, g
