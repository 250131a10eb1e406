// Mistral's forward (transformers' MistralForCausalLM): the rotary decoder's block with full causal attention, which
// is its sliding-window attention while the window holds the whole sequence; a longer sequence is refused by the
// family (core/family_mistral.cc check_sequence), here too in case a caller skipped the plan's check.
#include <ATen/ATen.h>

#include "engine/llama_forward.h"
#include "engine/model_forward.h"

namespace zo2 {
namespace {
at::Tensor mistral_block(const ModelShape& s, const ParamSlab& p, const at::Tensor& hidden, const ForwardOptions& o) {
  s.check_sequence(hidden.size(1), "mistral block");
  return rotary_block(s, p, hidden, {/*qk_norm=*/false, o.fused_kernels});
}
}  // namespace

const FamilyForward& mistral_family_forward() {
  static const FamilyForward kForward{rotary_embed, mistral_block, rotary_logits};
  return kForward;
}

}  // namespace zo2
