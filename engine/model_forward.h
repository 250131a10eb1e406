// The forward pass of any registered family, split the way the ZO2 schedule runs it: embeddings, one block, the head,
// the loss. Each family's forward (engine/<name>_forward.cc) is registered by name (core/model_families.def); the
// schedule, the calibration and zo2 forward call these entry points and never ask which family runs. Every function
// takes the slab that holds its weights, so a resident slab and a streamed GPU slot run the same code.
#pragma once
#include <ATen/core/Tensor.h>

#include <string>

#include "core/model_shape.h"
#include "engine/param_slab.h"

namespace zo2 {

// What a block's forward may do beyond its family's arithmetic. fused_kernels: the policy's --fused-kernels, the
// rotary families' fused CUDA path (engine/rotary_fused.cc; CUDA tensors only, OPT and the CPU ignore it). Off, the
// default for callers without a policy (zo2 forward, the module's logits, the parity tests): transformers' ops.
struct ForwardOptions {
  bool fused_kernels = false;
};

// One family's forward: embeddings (input_ids int64 [B, T] -> hidden [B, T, hidden]), one decoder block (hidden ->
// hidden) and the head (final norm, projection, logits [B, T, vocab]), all in the slab's dtype.
struct FamilyForward {
  at::Tensor (*embed)(const ModelShape& shape, const ParamSlab& resident, const at::Tensor& input_ids);
  at::Tensor (*block)(const ModelShape& shape, const ParamSlab& block, const at::Tensor& hidden,
                      const ForwardOptions& options);
  at::Tensor (*logits)(const ModelShape& shape, const ParamSlab& resident, const at::Tensor& hidden);
};
// Throws std::invalid_argument naming the family when it has no registered forward.
const FamilyForward& family_forward(const std::string& family);

at::Tensor model_embed(const ModelShape& shape, const ParamSlab& resident, const at::Tensor& input_ids);
at::Tensor model_block(const ModelShape& shape, const ParamSlab& block, const at::Tensor& hidden,
                       const ForwardOptions& options = {});
at::Tensor model_logits(const ModelShape& shape, const ParamSlab& resident, const at::Tensor& hidden);
// HuggingFace's causal-LM loss with labels = input_ids: logits upcast to fp32, shifted inside, mean over B*(T-1).
// Only the first T-1 positions' logits are computed (the last one has no label).
// loss_mask (optional): bool [B, T] on the ids' device marking target tokens by their own position, as HF's labels
// != -100 do: mask[b, t] makes token t (predicted from positions < t) count; position 0 is never a target. The loss
// is then the mean over the marked tokens (engine/input_check.h checks that there is one).
at::Tensor causal_lm_loss(const ModelShape& shape, const ParamSlab& resident, const at::Tensor& hidden,
                          const at::Tensor& input_ids, const at::Tensor& loss_mask = {});
// -log p(input_ids[:, t] | input_ids[:, <t]) for t = 1..T-1: float32 [B, T-1], the loss's terms before their mean.
at::Tensor causal_lm_token_nll(const ModelShape& shape, const ParamSlab& resident, const at::Tensor& hidden,
                               const at::Tensor& input_ids);

}  // namespace zo2
