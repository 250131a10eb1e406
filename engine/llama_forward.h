// The LLaMA forward pass in ATen ops (transformers' LlamaForCausalLM), split like the OPT one: embeddings, one block,
// the head. engine/opt_forward.cc dispatches here for a LLaMA shape, so the schedule and the loss need no change.
#pragma once
#include <ATen/core/Tensor.h>

#include "core/model_shape.h"
#include "engine/param_slab.h"

namespace zo2 {

// input_ids: int64 [B, T] on the slab's device. Returns the token embeddings [B, T, hidden] (no positions: rotary
// positions enter every block's attention).
at::Tensor llama_embed(const ModelShape& shape, const ParamSlab& resident, const at::Tensor& input_ids);
// One decoder layer: x + o_proj(attn(RMSNorm(x))), then x + down(silu(gate(h)) * up(h)) with h = RMSNorm(x); causal
// grouped-query attention with rotary positions 0..T-1.
at::Tensor llama_block(const ModelShape& shape, const ParamSlab& block, const at::Tensor& hidden);
// Final RMSNorm, then lm_head (embed_tokens when the shape ties them): logits [B, T, vocab] in the slab's dtype.
at::Tensor llama_logits(const ModelShape& shape, const ParamSlab& resident, const at::Tensor& hidden);

}  // namespace zo2
