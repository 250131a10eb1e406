// Seeded, wrapping batches over a token file, or random tokens.
#include "engine/token_batches.h"

#include <ATen/ATen.h>
#include <fmt/format.h>

#include <algorithm>
#include <numeric>
#include <stdexcept>

#include "engine/io/npy.h"

namespace zo2 {

TokenBatches::TokenBatches(std::optional<std::filesystem::path> data, int64_t vocab, int64_t batch, int64_t seq,
                           uint64_t seed)
    : vocab_(vocab), batch_(batch), seq_(seq), rng_(seed) {
  if (batch <= 0) throw std::invalid_argument(fmt::format("--batch {}: expected a positive batch size", batch));
  if (seq < 2) throw std::invalid_argument(fmt::format("--seq {}: expected at least 2 tokens (the loss shifts by one)", seq));
  if (!data) return;
  auto arr = io::read_npy_int64(*data);
  if (arr.shape.size() != 2)
    throw std::runtime_error(fmt::format("{}: expected a 2-D [N, T] array of token ids, got {} dimensions",
                                         data->string(), arr.shape.size()));
  if (arr.shape[0] < 1 || arr.shape[1] < seq)
    throw std::runtime_error(fmt::format("{}: rows of {} tokens are shorter than --seq {} (or no rows)", data->string(),
                                         arr.shape[1], seq));
  for (size_t i = 0; i < arr.values.size(); ++i)
    if (arr.values[i] < 0 || arr.values[i] >= vocab)
      throw std::runtime_error(fmt::format("{}: token id {} at row {}, column {} is outside the vocabulary [0, {})",
                                           data->string(), arr.values[i], int64_t(i) / arr.shape[1],
                                           int64_t(i) % arr.shape[1], vocab));
  rows_ = at::from_blob(arr.values.data(), {arr.shape[0], arr.shape[1]}, at::kLong).clone();
}

at::Tensor TokenBatches::next() {
  if (!rows_.defined()) {
    at::Tensor ids = at::empty({batch_, seq_}, at::kLong);
    std::uniform_int_distribution<int64_t> token(0, vocab_ - 1);
    auto* p = ids.data_ptr<int64_t>();
    for (int64_t i = 0; i < batch_ * seq_; ++i) p[i] = token(rng_);
    return ids;
  }
  std::vector<int64_t> picked;
  while (int64_t(picked.size()) < batch_) {
    if (cursor_ == order_.size()) {  // a new epoch: reshuffle
      order_.resize(size_t(rows_.size(0)));
      std::iota(order_.begin(), order_.end(), 0);
      std::shuffle(order_.begin(), order_.end(), rng_);
      cursor_ = 0;
    }
    picked.push_back(order_[cursor_++]);
  }
  at::Tensor index = at::tensor(picked, at::kLong);
  return rows_.index_select(0, index).narrow(1, 0, seq_).contiguous();
}

}  // namespace zo2
