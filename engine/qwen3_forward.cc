// Qwen3's forward (transformers' Qwen3ForCausalLM): the rotary decoder's block with q_norm and k_norm, an RMSNorm
// over head_dim on every query and key head before the rotation.
#include "engine/llama_forward.h"
#include "engine/model_forward.h"

namespace zo2 {
namespace {
at::Tensor qwen3_block(const ModelShape& s, const ParamSlab& p, const at::Tensor& hidden, const ForwardOptions& o) {
  return rotary_block(s, p, hidden, {/*qk_norm=*/true, o.fused_kernels});
}
}  // namespace

const FamilyForward& qwen3_family_forward() {
  static const FamilyForward kForward{rotary_embed, qwen3_block, rotary_logits};
  return kForward;
}

}  // namespace zo2
