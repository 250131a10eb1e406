// LLaMA models in the engine: HF's random initialisation, and the checkpoint keys transformers' LlamaForCausalLM uses
// (the forward pass itself is checked against transformers in tests/python/test_forward_parity.py).
#include "catch_aten.h"

#include <ATen/ATen.h>

#include <filesystem>
#include <set>

#include "core/remove_tree.h"
#include "engine/checkpoint.h"
#include "engine/io/safetensors_checkpoint.h"
#include "engine/opt_model.h"
#include "test_util.h"

using namespace zo2;

TEST_CASE("a LLaMA model initialises as HF does: RMSNorm weights 1, matrices and embeddings normal(0, 0.02)") {
  const uint64_t seed = test::fresh_seed();
  INFO("seed " << seed);
  std::mt19937_64 rng(seed);
  ModelShape shape = test::random_small_llama_shape(rng);
  shape.hidden = shape.word_embed_proj_dim = shape.heads * 16;  // enough elements for the moments below
  shape.ffn = 64;
  OptModel m = OptModel::allocate(shape, DType::f32, at::kCPU);
  m.init_random(seed);
  int64_t norms = 0, matrices = 0;
  for (ParamSlab* slab : m.slabs())
    for (size_t i = 0; i < slab->views.size(); ++i) {
      const SlabEntry& e = slab->layout.entries[i];
      INFO(e.name);
      const at::Tensor v = slab->views[i].to(at::kDouble);
      if (e.shape.size() == 1) {  // LLaMA's only vectors are its RMSNorm weights
        CHECK_FALSE(e.decay);
        CHECK(at::equal(v, at::ones_like(v)));
        ++norms;
      } else {
        CHECK(e.decay);
        // Mean and standard deviation of n >= 256 draws: within 5 standard errors of 0 and 0.02.
        const double n = double(e.numel), mean = v.mean().item<double>(), sd = v.std().item<double>();
        CHECK(std::abs(mean) < 5 * 0.02 / std::sqrt(n));
        CHECK(std::abs(sd - 0.02) < 5 * 0.02 / std::sqrt(2 * n));
        ++matrices;
      }
    }
  CHECK(norms == 1 + 2 * shape.layers);
  CHECK(matrices == (shape.tie_word_embeddings ? 1 : 2) + 7 * shape.layers);
}

TEST_CASE("a LLaMA checkpoint has transformers' keys: model.* and lm_head.weight at the top unless tied") {
  const uint64_t seed = test::fresh_seed();
  std::mt19937_64 rng(seed);
  for (bool tied : {false, true}) {
    INFO("seed " << seed << " tied " << tied);
    ModelShape shape = test::random_small_llama_shape(rng);
    shape.tie_word_embeddings = tied;
    OptModel m = OptModel::allocate(shape, DType::bf16, at::kCPU);
    m.init_random(rng());
    const std::filesystem::path dir =
        std::filesystem::temp_directory_path() / ("zo2-llama-keys-" + std::to_string(rng()));
    save_opt_checkpoint(m, dir, /*max_shard_bytes=*/2048);  // sharded: the index holds the keys too
    std::set<std::string> want{"model.embed_tokens.weight", "model.norm.weight"};
    if (!tied) want.insert("lm_head.weight");
    for (int64_t l = 0; l < shape.layers; ++l)
      for (const auto& t : shape.block_tensors()) want.insert("model." + ModelShape::block_prefix(l) + t.name);
    const std::vector<std::string> names = io::SafetensorsCheckpoint(dir).names();
    CHECK(std::set<std::string>(names.begin(), names.end()) == want);
    const OptModel back = load_opt_checkpoint(dir, DType::bf16, at::kCPU);
    CHECK(back.shape.family == "llama");
    CHECK(back.shape.tie_word_embeddings == tied);
    CHECK(back.shape.key_value_heads() == shape.key_value_heads());
    CHECK(back.shape.rope_theta == shape.rope_theta);
    CHECK(back.shape.rms_norm_eps == shape.rms_norm_eps);
    CHECK(at::equal(back.resident.flat, m.resident.flat));
    for (size_t l = 0; l < back.blocks.size(); ++l) CHECK(at::equal(back.blocks[l].flat, m.blocks[l].flat));
    remove_tree(dir);
  }
}
