// Checks of the tensors a caller hands the engine (token ids, loss masks), with errors that name the argument and
// what was expected, so bad input is refused before it reaches a kernel (an id outside the vocabulary would index out
// of bounds on the GPU and leave the device unusable).
#pragma once
#include <ATen/core/Tensor.h>

#include <string>

#include "core/model_shape.h"

namespace zo2 {

// int64 [B, T], B >= 1, min_tokens <= T <= the model's positions, every id in [0, vocab). `what` names the argument
// ("input_ids", a file) in std::invalid_argument messages.
void check_token_ids(const at::Tensor& ids, const ModelShape& shape, const std::string& what, int64_t min_tokens = 1);

// A loss mask for `ids` [B, T]: bool, or integer/floating 0/1, of the same shape, marking target tokens by their own
// position (HF's labels != -100; position 0 is never a target). Returns it as a contiguous bool tensor on the ids'
// device; refuses values other than 0/1 and a mask with no target among positions 1..T-1.
at::Tensor checked_loss_mask(const at::Tensor& mask, const at::Tensor& ids, const std::string& what);

}  // namespace zo2
