// Model shapes: preset parameter counts against HuggingFace's, config.json parsing and its errors, slab layouts.
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <nlohmann/json.hpp>
#include <random>

#include "core/model_shape.h"
#include "core/slab_layout.h"

using namespace zo2;
using Catch::Matchers::ContainsSubstring;

TEST_CASE("OPT presets have HuggingFace's parameter counts") {
  // Counts of OPTForCausalLM.num_parameters() for the released checkpoints (tied head counted once).
  CHECK(opt_preset("opt-125m").total_params() == 125239296);
  CHECK(opt_preset("opt-350m").total_params() == 331196416);
  CHECK(opt_preset("opt-1.3b").total_params() == 1315758080);
  for (const auto& name : opt_preset_names()) {
    const ModelShape s = opt_preset(name);
    CHECK(s.total_params() == s.resident_params() + s.layers * s.block_params());
    CHECK(s.block_first_index(s.layers - 1) + s.block_params() == s.total_params());
  }
}

TEST_CASE("unknown presets and bad config fields are named in the error") {
  CHECK_THROWS_WITH(opt_preset("opt-7b"), ContainsSubstring("opt-7b") && ContainsSubstring("opt-125m"));
  nlohmann::json c = {{"model_type", "opt"}, {"vocab_size", 100}, {"hidden_size", 30}, {"num_hidden_layers", 2},
                      {"num_attention_heads", 4}, {"ffn_dim", 64}};
  CHECK_THROWS_WITH(shape_from_hf_config(c, "cfg.json"), ContainsSubstring("cfg.json") && ContainsSubstring("num_attention_heads"));
  c["num_attention_heads"] = 3;
  CHECK_NOTHROW(shape_from_hf_config(c, "cfg.json"));
  c.erase("ffn_dim");
  CHECK_THROWS_WITH(shape_from_hf_config(c, "cfg.json"), ContainsSubstring("ffn_dim"));
  c["ffn_dim"] = "64";
  CHECK_THROWS_WITH(shape_from_hf_config(c, "cfg.json"), ContainsSubstring("ffn_dim") && ContainsSubstring("integer"));
  c["ffn_dim"] = 64;
  c["model_type"] = "llama";
  CHECK_THROWS_WITH(shape_from_hf_config(c, "cfg.json"), ContainsSubstring("model_type"));
}

TEST_CASE("config.json round-trips through the shape") {
  std::mt19937 rng(std::random_device{}());
  for (int trial = 0; trial < 20; ++trial) {
    ModelShape s;
    s.heads = 1 + rng() % 4;
    s.hidden = s.heads * (1 + rng() % 16);
    s.layers = 1 + rng() % 5;
    s.ffn = 1 + rng() % 100;
    s.vocab_size = 2 + rng() % 1000;
    s.max_positions = 1 + rng() % 300;
    s.word_embed_proj_dim = rng() % 2 ? s.hidden : 1 + rng() % 40;
    s.do_layer_norm_before = rng() % 2;
    s.enable_bias = rng() % 2;
    const ModelShape back = shape_from_hf_config(shape_to_hf_config(s, "float32"), "round trip");
    CHECK(back.total_params() == s.total_params());
    CHECK(back.do_layer_norm_before == s.do_layer_norm_before);
    CHECK(back.word_embed_proj_dim == s.word_embed_proj_dim);
  }
}

TEST_CASE("slab layouts align every view to 256 bytes and keep global indices contiguous") {
  std::mt19937 rng(std::random_device{}());
  ModelShape s;
  s.heads = 1 + rng() % 4;
  s.hidden = s.heads * (1 + rng() % 20);
  s.ffn = 1 + rng() % 77;
  s.layers = 3;
  for (DType dt : {DType::f32, DType::f16, DType::bf16}) {
    const SlabLayout b = block_layout(s, 2, dt);
    int64_t expect_global = s.block_first_index(2);
    int64_t prev_end = 0;
    for (const auto& e : b.entries) {
      CHECK((e.offset * dtype_bytes(dt)) % kSlabAlignBytes == 0);
      CHECK(e.offset >= prev_end);
      CHECK(e.global_index == expect_global);
      expect_global += e.numel;
      prev_end = e.offset + e.numel;
    }
    CHECK(b.elements >= prev_end);
    CHECK(b.params() == s.block_params());
  }
}
