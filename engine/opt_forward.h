// The OPT forward pass in ATen ops (transformers' OPTForCausalLM), registered as the "opt" family's forward
// (engine/model_forward.h): embeddings with learned positions, one decoder block, the tied head.
#pragma once
#include <ATen/core/Tensor.h>

#include "core/model_shape.h"
#include "engine/param_slab.h"

namespace zo2 {

// input_ids: int64 [B, T] on the slab's device. Returns hidden states [B, T, hidden] in the slab's dtype.
at::Tensor opt_embed(const ModelShape& shape, const ParamSlab& resident, const at::Tensor& input_ids);
// One decoder layer (self-attention with a causal mask, then the FFN), pre- or post-LN as the shape says.
at::Tensor opt_block(const ModelShape& shape, const ParamSlab& block, const at::Tensor& hidden);
// Final norm, projection and the head (tied to embed_tokens): logits [B, T, vocab] in the slab's dtype.
at::Tensor opt_logits(const ModelShape& shape, const ParamSlab& resident, const at::Tensor& hidden);

}  // namespace zo2
