// Helpers shared by the engine tests: fresh seeds, random small OPT shapes, normwise relative error.
#pragma once
#include <ATen/ATen.h>

#include <random>

#include "core/model_shape.h"

namespace zo2::test {

inline uint64_t fresh_seed() {
  std::random_device rd;
  return (uint64_t(rd()) << 32) | rd();
}

// A small random OPT shape (pre- or post-LN, with or without the 350m-style projection).
inline ModelShape random_small_shape(std::mt19937_64& rng) {
  ModelShape s;
  s.heads = 1 + rng() % 4;
  s.hidden = s.heads * (4 + rng() % 6);
  s.layers = 1 + rng() % 3;
  s.ffn = 8 + rng() % 40;
  s.vocab_size = 50 + rng() % 200;
  s.max_positions = 64;
  s.word_embed_proj_dim = rng() % 2 ? s.hidden : 4 + rng() % 12;
  s.do_layer_norm_before = rng() % 2;
  return s;
}

inline double rel_error(const at::Tensor& got, const at::Tensor& ref) {
  at::Tensor g = got.to(at::kDouble).cpu(), r = ref.to(at::kDouble).cpu();
  return (g - r).norm().item<double>() / std::max(r.norm().item<double>(), 1e-300);
}

}  // namespace zo2::test
