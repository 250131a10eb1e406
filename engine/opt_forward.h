// The OPT forward pass in ATen ops, split the way the ZO2 schedule runs it: embeddings, one block, the head, the loss.
// Every function takes the slab that holds its weights, so a resident slab and a streamed GPU slot run the same code.
// A LLaMA shape (shape.is_llama()) runs engine/llama_forward.h's embeddings, block and head through the same calls.
#pragma once
#include <ATen/core/Tensor.h>

#include "core/model_shape.h"
#include "engine/param_slab.h"

namespace zo2 {

// input_ids: int64 [B, T] on the slab's device. Returns hidden states [B, T, hidden] in the slab's dtype.
at::Tensor opt_embed(const ModelShape& shape, const ParamSlab& resident, const at::Tensor& input_ids);
// One decoder layer (self-attention with a causal mask, then the FFN), pre- or post-LN as the shape says.
at::Tensor opt_block(const ModelShape& shape, const ParamSlab& block, const at::Tensor& hidden);
// Final norm, projection and the head (tied to embed_tokens for OPT): logits [B, T, vocab] in the slab's dtype.
at::Tensor opt_logits(const ModelShape& shape, const ParamSlab& resident, const at::Tensor& hidden);
// HuggingFace's causal-LM loss with labels = input_ids: logits upcast to fp32, shifted inside, mean over B*(T-1).
// Only the first T-1 positions' logits are computed (the last one has no label).
// loss_mask (optional): bool [B, T] on the ids' device marking target tokens by their own position, as HF's labels
// != -100 do: mask[b, t] makes token t (predicted from positions < t) count; position 0 is never a target. The loss
// is then the mean over the marked tokens (engine/input_check.h checks that there is one).
at::Tensor opt_causal_lm_loss(const ModelShape& shape, const ParamSlab& resident, const at::Tensor& hidden,
                              const at::Tensor& input_ids, const at::Tensor& loss_mask = {});
// -log p(input_ids[:, t] | input_ids[:, <t]) for t = 1..T-1: float32 [B, T-1], the loss's terms before their mean.
at::Tensor opt_token_nll(const ModelShape& shape, const ParamSlab& resident, const at::Tensor& hidden,
                         const at::Tensor& input_ids);

}  // namespace zo2
