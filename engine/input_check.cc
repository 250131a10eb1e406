// Token id and loss mask checks (one host read of min/max per tensor; the offending element only on failure).
#include "engine/input_check.h"

#include <ATen/ATen.h>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <stdexcept>

namespace zo2 {

void check_token_ids(const at::Tensor& ids, const ModelShape& shape, const std::string& what, int64_t min_tokens) {
  if (!ids.defined()) throw std::invalid_argument(fmt::format("{}: expected a tensor of token ids", what));
  if (ids.scalar_type() != at::kLong)
    throw std::invalid_argument(
        fmt::format("{}: expected int64 token ids (torch.long), got {}", what, c10::toString(ids.scalar_type())));
  if (ids.dim() != 2 || ids.size(0) < 1 || ids.size(1) < 1)
    throw std::invalid_argument(fmt::format("{}: expected a non-empty 2-D [B, T] array of token ids, got shape [{}]",
                                            what, fmt::join(ids.sizes(), ", ")));
  if (ids.size(1) < min_tokens)
    throw std::invalid_argument(fmt::format("{}: {} tokens per row; the loss needs at least {} (it shifts by one)", what,
                                            ids.size(1), min_tokens));
  if (ids.size(1) > shape.max_positions)
    throw std::invalid_argument(fmt::format("{}: {} tokens per row exceed the model's {} positions", what, ids.size(1),
                                            shape.max_positions));
  shape.check_sequence(ids.size(1), what);  // a family's own limit (Mistral's sliding window)
  const auto [lo, hi] = at::aminmax(ids);
  if (lo.item<int64_t>() >= 0 && hi.item<int64_t>() < shape.vocab_size) return;
  const at::Tensor flat = ids.reshape({-1}).cpu();
  const at::Tensor bad = at::logical_or(flat < 0, flat >= shape.vocab_size).nonzero();
  const int64_t i = bad[0][0].item<int64_t>();
  throw std::invalid_argument(fmt::format("{}: token id {} at flat index {} is outside the vocabulary [0, {})", what,
                                          flat[i].item<int64_t>(), i, shape.vocab_size));
}

at::Tensor checked_loss_mask(const at::Tensor& mask, const at::Tensor& ids, const std::string& what) {
  if (!mask.defined()) throw std::invalid_argument(fmt::format("{}: expected a tensor", what));
  if (mask.sizes() != ids.sizes())
    throw std::invalid_argument(fmt::format("{}: shape [{}] differs from input_ids' [{}] (one flag per token)", what,
                                            fmt::join(mask.sizes(), ", "), fmt::join(ids.sizes(), ", ")));
  at::Tensor m = mask;
  if (m.scalar_type() != at::kBool) {
    if (m.is_complex() || !(at::isIntegralType(m.scalar_type(), false) || at::isFloatingType(m.scalar_type())))
      throw std::invalid_argument(fmt::format("{}: expected bool or 0/1 values, got {}", what,
                                              c10::toString(m.scalar_type())));
    if (!at::logical_or(m == 0, m == 1).all().item<bool>())
      throw std::invalid_argument(fmt::format("{}: expected bool or 0/1 values, found others", what));
    m = m != 0;
  }
  m = m.to(ids.device()).contiguous();
  if (!m.narrow(1, 1, m.size(1) - 1).any().item<bool>())
    throw std::invalid_argument(fmt::format(
        "{}: no target token (the mask marks targets by their own position; position 0 is never one)", what));
  return m;
}

}  // namespace zo2
