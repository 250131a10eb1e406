// The rotary decoders' forward pass in ATen ops (transformers' LlamaForCausalLM, and the families built like it:
// Qwen3, Mistral), split like the OPT one: embeddings, one block, the head. LLaMA registers these as its forward;
// engine/qwen3_forward.cc and engine/mistral_forward.cc register theirs from the same pieces.
#pragma once
#include <ATen/core/Tensor.h>

#include <string>
#include <utility>

#include "core/model_shape.h"
#include "engine/param_slab.h"

namespace zo2 {

// What a rotary decoder's block does beyond LLaMA's (the shape says the rest: head_dim, key-value heads, biases).
struct RotaryBlockOptions {
  bool qk_norm = false;  // Qwen3: RMSNorm over head_dim on q and k (self_attn.q_norm, k_norm) before the rotation
  // --fused-kernels: on CUDA tensors, the fused block (engine/rotary_fused.h); elsewhere nothing changes.
  bool fused_kernels = false;
};

// input_ids: int64 [B, T] on the slab's device. Returns the token embeddings [B, T, hidden] (no positions: rotary
// positions enter every block's attention).
at::Tensor rotary_embed(const ModelShape& shape, const ParamSlab& resident, const at::Tensor& input_ids);
// One decoder layer: x + o_proj(attn(RMSNorm(x))), then x + down(silu(gate(h)) * up(h)) with h = RMSNorm(x); causal
// grouped-query attention with rotary positions 0..T-1.
at::Tensor rotary_block(const ModelShape& shape, const ParamSlab& block, const at::Tensor& hidden,
                        const RotaryBlockOptions& options);
// The pieces the fused block shares with this one. rotary_cos_sin: HF's rotary cos and sin for positions 0..T-1,
// [1, T, head_dim] in `like`'s dtype and device, computed once and kept. rotary_projection: an attention projection,
// with its bias when the shape has them. rotary_attention: HF's SDPA call on q [B, heads, T, d] and k, v [B, kv_heads,
// T, d] (rotated), returning [B, T, heads * d] for o_proj.
std::pair<at::Tensor, at::Tensor> rotary_cos_sin(const ModelShape& shape, int64_t T, const at::Tensor& like);
at::Tensor rotary_projection(const ModelShape& shape, const ParamSlab& block, const std::string& name,
                             const at::Tensor& x);
at::Tensor rotary_attention(const ModelShape& shape, const at::Tensor& q, const at::Tensor& k, const at::Tensor& v);
// Final RMSNorm, then lm_head (embed_tokens when the shape ties them): logits [B, T, vocab] in the slab's dtype.
at::Tensor rotary_logits(const ModelShape& shape, const ParamSlab& resident, const at::Tensor& hidden);

}  // namespace zo2
