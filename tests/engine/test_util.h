// Helpers shared by the engine tests: fresh seeds, random small shapes of every family, normwise relative error.
#pragma once
#include <ATen/ATen.h>

#include <cmath>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/model_family.h"
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

// A small random LLaMA shape: grouped-query attention two times in three, an even head_dim (rotary pairs), random
// rope theta and eps, the head tied or not.
inline ModelShape random_small_llama_shape(std::mt19937_64& rng) {
  ModelShape s = model_preset("llama-2-7b");  // the family's fixed fields: silu, no biases, no projection
  s.kv_heads = 1 + rng() % 3;
  s.heads = s.kv_heads * (1 + rng() % 3);
  s.hidden = s.word_embed_proj_dim = s.heads * 2 * (2 + rng() % 4);
  s.layers = 1 + rng() % 3;
  s.ffn = 8 + rng() % 40;
  s.vocab_size = 50 + rng() % 200;
  s.max_positions = 64;
  s.rope_theta = std::pow(10.0, 2.0 + double(rng() % 1000) / 250.0);
  s.rms_norm_eps = 1e-6 * double(1 + rng() % 10);
  s.tie_word_embeddings = rng() % 2;
  s.validate("random_small_llama_shape");
  return s;
}

// A small random Qwen3 (q/k norms; head_dim free of hidden / heads, attention biases, head tied or not) or Mistral
// (head_dim free; sliding_window null or no smaller than the positions) shape, from a LLaMA one.
inline ModelShape random_small_rotary_shape(std::mt19937_64& rng, const std::string& family) {
  ModelShape s = random_small_llama_shape(rng);
  const ModelShape preset = model_preset(family == "qwen3" ? "qwen3-0.6b" : "mistral-7b-v0.3");
  s.family = preset.family;
  if (rng() % 2) s.head_size = 2 * (2 + rng() % 6);  // head_dim != hidden / heads half the time
  if (family == "qwen3") s.attention_bias = rng() % 2;
  if (family == "mistral" && rng() % 2) s.sliding_window = s.max_positions + int64_t(rng() % 8);
  s.validate("random_small_rotary_shape");
  return s;
}

// The families the engine tests run: every one registered (core/model_families.def), so a new family is tested as
// soon as it is registered (random_small_shape refuses one it cannot draw).
inline const std::vector<std::string>& test_families() {
  static const std::vector<std::string> kFamilies = [] {
    std::vector<std::string> names;
    for (const ModelFamily* f : model_families()) names.push_back(f->name());
    return names;
  }();
  return kFamilies;
}

// A small random shape of `family`.
inline ModelShape random_small_shape(std::mt19937_64& rng, const std::string& family) {
  if (family == "qwen3" || family == "mistral") return random_small_rotary_shape(rng, family);
  if (family == "llama") return random_small_llama_shape(rng);
  if (family == "opt") return random_small_shape(rng);
  throw std::invalid_argument("tests/engine/test_util.h: no random small shape for model family '" + family +
                              "' (add one to random_small_shape)");
}

// Two training runs (anything with steps[i].loss_plus/loss_minus and params[j], tensors on the CPU) agree bitwise.
template <class Run>
bool bitwise_equal(const Run& a, const Run& b) {
  if (a.steps.size() != b.steps.size() || a.params.size() != b.params.size()) return false;
  for (size_t i = 0; i < a.steps.size(); ++i)
    if (a.steps[i].loss_plus != b.steps[i].loss_plus || a.steps[i].loss_minus != b.steps[i].loss_minus) return false;
  for (size_t i = 0; i < a.params.size(); ++i)
    if (!at::equal(a.params[i], b.params[i])) return false;
  return true;
}

inline double rel_error(const at::Tensor& got, const at::Tensor& ref) {
  at::Tensor g = got.to(at::kDouble).cpu(), r = ref.to(at::kDouble).cpu();
  return (g - r).norm().item<double>() / std::max(r.norm().item<double>(), 1e-300);
}

}  // namespace zo2::test
