// Training batches: rows of a token-id array in a seeded shuffle that wraps around, or random tokens (the peer's
// benchmark workload) when no data file is given.
#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <random>
#include <vector>

namespace zo2 {

class TokenBatches {
 public:
  // data: an int64 [N, T'] .npy with T' >= seq and every id in [0, vocab); errors name the file and the problem.
  TokenBatches(std::optional<std::filesystem::path> data, int64_t vocab, int64_t batch, int64_t seq, uint64_t seed);
  // The next [batch, seq] int64 batch on the CPU.
  at::Tensor next();

 private:
  int64_t vocab_, batch_, seq_;
  std::mt19937_64 rng_;
  at::Tensor rows_;               // [N, T'] when data was given
  std::vector<int64_t> order_;    // the current epoch's shuffle
  size_t cursor_ = 0;
};

}  // namespace zo2
