// The whole model's forward (any family) outside a training step (logits, token log-probabilities), for `zo2 forward` and the
// Python module alike. Offloaded blocks are uploaded one at a time into a buffer of their own, as --slots alloc does.
#pragma once
#include <ATen/core/Tensor.h>

#include "engine/opt_model.h"

namespace zo2 {

// Hidden states after the last block, [B, T, hidden] in the model's dtype. input_ids: int64 [B, T] on the model's
// device, already checked (engine/input_check.h). The weights read are the model's as they stand: flush a training
// engine first (ZoEngine::flush), or offloaded blocks miss their pending updates.
at::Tensor model_hidden(OptModel& model, const at::Tensor& input_ids);
// Logits [B, T, vocab] in float32 on the model's device.
at::Tensor model_logits(OptModel& model, const at::Tensor& input_ids);
// log p(input_ids[:, t] | input_ids[:, <t]) in float32 [B, T] on the model's device; position 0 (no context) is 0.
// The same per-token cross-entropy as the training loss (the CUDA kernel on the GPU).
at::Tensor model_token_logprobs(OptModel& model, const at::Tensor& input_ids);

}  // namespace zo2
