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
  CHECK(model_preset("opt-125m").total_params() == 125239296);
  CHECK(model_preset("opt-350m").total_params() == 331196416);
  CHECK(model_preset("opt-1.3b").total_params() == 1315758080);
  for (const auto& name : model_preset_names()) {
    const ModelShape s = model_preset(name);
    CHECK(s.total_params() == s.resident_params() + s.layers * s.block_params());
    CHECK(s.block_first_index(s.layers - 1) + s.block_params() == s.total_params());
  }
}

TEST_CASE("unknown presets and bad config fields are named in the error") {
  CHECK_THROWS_WITH(model_preset("opt-7b"), ContainsSubstring("opt-7b") && ContainsSubstring("opt-125m"));
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
  c["model_type"] = "gpt2";
  CHECK_THROWS_WITH(shape_from_hf_config(c, "cfg.json"), ContainsSubstring("model_type") && ContainsSubstring("gpt2"));
}

TEST_CASE("LLaMA presets have HuggingFace's parameter counts") {
  // LlamaForCausalLM.num_parameters() of the released checkpoints (untied lm_head).
  CHECK(model_preset("llama-2-7b").total_params() == 6738415616);
  CHECK(model_preset("llama-2-13b").total_params() == 13015864320);
  CHECK(model_preset("llama-2-70b").total_params() == 68976648192);
  CHECK(model_preset("llama-3-8b").total_params() == 8030261248);
  const ModelShape s = model_preset("llama-2-70b");
  CHECK(s.key_value_heads() == 8);
  CHECK(s.block_tensors()[1].shape == std::vector<int64_t>{1024, 8192});  // k_proj over the key-value heads
  CHECK(ModelShape::checkpoint_key(s.hf_model_prefix(), "lm_head.weight") == "lm_head.weight");
  CHECK(ModelShape::checkpoint_key(s.hf_model_prefix(), "norm.weight") == "model.norm.weight");
}

TEST_CASE("Qwen3 and Mistral presets have HuggingFace's parameter counts") {
  // Qwen3ForCausalLM / MistralForCausalLM built on the meta device from the published config.json values
  // (tests/python/test_family_parity.py checks the configs against transformers too).
  CHECK(model_preset("qwen3-0.6b").total_params() == 596049920);
  CHECK(model_preset("qwen3-1.7b").total_params() == 1720574976);
  CHECK(model_preset("qwen3-4b").total_params() == 4022468096);
  CHECK(model_preset("qwen3-8b").total_params() == 8190735360);
  CHECK(model_preset("qwen3-14b").total_params() == 14768307200);
  CHECK(model_preset("qwen3-32b").total_params() == 32762123264);
  CHECK(model_preset("mistral-7b-v0.1").total_params() == 7241732096);
  CHECK(model_preset("mistral-7b-v0.3").total_params() == 7248023552);
  const ModelShape q = model_preset("qwen3-0.6b");  // head_dim 128 with hidden 1024 over 16 heads
  CHECK(q.head_dim() == 128);
  CHECK(q.block_tensors()[0].shape == std::vector<int64_t>{2048, 1024});  // q_proj: 16 heads x 128
  CHECK(q.block_tensors()[4].name == "self_attn.q_norm.weight");
}

TEST_CASE("Qwen3 and Mistral config.json: round trips and refusals by field") {
  std::mt19937 rng(std::random_device{}());
  for (int trial = 0; trial < 20; ++trial) {
    const bool qwen3 = trial % 2 == 0;
    const int64_t kv = 1 + rng() % 3, heads = kv * (1 + rng() % 3), head_dim = 2 * (1 + rng() % 8);
    nlohmann::json c = {{"model_type", qwen3 ? "qwen3" : "mistral"}, {"vocab_size", 2 + rng() % 1000},
                        {"num_hidden_layers", 1 + rng() % 4}, {"num_attention_heads", heads},
                        {"num_key_value_heads", kv}, {"hidden_size", 2 * (1 + rng() % 40)}, {"head_dim", head_dim},
                        {"intermediate_size", 1 + rng() % 200}, {"tie_word_embeddings", bool(rng() % 2)}};
    if (qwen3) c["attention_bias"] = bool(rng() % 2);
    else c["sliding_window"] = rng() % 2 ? nlohmann::json(nullptr) : nlohmann::json(1 + rng() % 100);
    const ModelShape s = shape_from_hf_config(c, "drawn");
    CHECK(s.head_dim() == head_dim);
    const ModelShape back = shape_from_hf_config(shape_to_hf_config(s, "bfloat16"), "round trip");
    CHECK(back.family == s.family);
    CHECK(back.total_params() == s.total_params());
    CHECK(back.head_dim() == head_dim);
    CHECK(back.attention_bias == s.attention_bias);
    CHECK(back.sliding_window == s.sliding_window);
    CHECK(back.tie_word_embeddings == s.tie_word_embeddings);
  }
  nlohmann::json q = {{"model_type", "qwen3"}, {"vocab_size", 100}, {"hidden_size", 64}, {"num_hidden_layers", 2},
                      {"num_attention_heads", 4}, {"num_key_value_heads", 2}, {"intermediate_size", 96}};
  CHECK(shape_from_hf_config(q, "q.json").head_dim() == 128);  // Qwen3Config's default head_dim
  auto refused = [](nlohmann::json bad, const char* field, const char* value_field, nlohmann::json value) {
    bad[value_field] = value;
    CHECK_THROWS_WITH(shape_from_hf_config(bad, "cfg.json"), ContainsSubstring("cfg.json") && ContainsSubstring(field));
  };
  refused(q, "use_sliding_window", "use_sliding_window", true);
  refused(q, "layer_types", "layer_types", {"full_attention", "sliding_attention"});
  refused(q, "mlp_bias", "mlp_bias", true);
  nlohmann::json m = q;
  m["model_type"] = "mistral";
  m.erase("head_dim");
  CHECK(shape_from_hf_config(m, "m.json").sliding_window == 4096);  // MistralConfig's default when absent
  m["sliding_window"] = nullptr;
  CHECK(shape_from_hf_config(m, "m.json").sliding_window == 0);
  m["sliding_window"] = 16;
  const ModelShape w = shape_from_hf_config(m, "m.json");
  w.check_sequence(16, "--seq");
  CHECK_THROWS_WITH(w.check_sequence(17, "--seq"), ContainsSubstring("sliding_window") && ContainsSubstring("17"));
}

TEST_CASE("LLaMA config.json: transformers 5's rope_parameters, older files' rope_theta, and refusals by field") {
  nlohmann::json c = {{"model_type", "llama"}, {"vocab_size", 100}, {"hidden_size", 64}, {"num_hidden_layers", 2},
                      {"num_attention_heads", 4}, {"num_key_value_heads", 2}, {"intermediate_size", 96},
                      {"rms_norm_eps", 1e-5}, {"rope_parameters", {{"rope_type", "default"}, {"rope_theta", 5000.0}}}};
  ModelShape s = shape_from_hf_config(c, "cfg.json");
  CHECK(s.family == "llama");
  CHECK(s.rope_theta == 5000.0);
  CHECK(s.rms_norm_eps == 1e-5);
  CHECK(!s.tie_word_embeddings);
  CHECK(s.resident_params() == 2 * 100 * 64 + 64);
  CHECK(s.block_params() == 2 * 64 * 64 + 2 * 32 * 64 + 3 * 64 * 96 + 2 * 64);
  c.erase("rope_parameters");
  c["rope_theta"] = 123.0;
  CHECK(shape_from_hf_config(c, "cfg.json").rope_theta == 123.0);
  c["tie_word_embeddings"] = true;
  CHECK(shape_from_hf_config(c, "cfg.json").resident_params() == 100 * 64 + 64);
  auto refused = [&](const char* field, nlohmann::json value) {
    nlohmann::json bad = c;
    bad[field] = value;
    CHECK_THROWS_WITH(shape_from_hf_config(bad, "cfg.json"), ContainsSubstring("cfg.json") && ContainsSubstring(field));
  };
  refused("num_key_value_heads", 3);
  refused("rope_scaling", {{"rope_type", "linear"}, {"factor", 2.0}});
  refused("attention_bias", true);
  refused("hidden_act", "gelu");
  refused("head_dim", 32);
  refused("rope_parameters", {{"rope_type", "yarn"}, {"rope_theta", 1.0}});
}

TEST_CASE("LLaMA config.json round-trips through the shape") {
  std::mt19937 rng(std::random_device{}());
  for (int trial = 0; trial < 20; ++trial) {
    nlohmann::json c = {{"model_type", "llama"}, {"vocab_size", 2 + rng() % 1000}, {"num_hidden_layers", 1 + rng() % 4}};
    const int64_t kv = 1 + rng() % 3, heads = kv * (1 + rng() % 3), head_dim = 2 * (1 + rng() % 8);
    c["num_attention_heads"] = heads;
    c["num_key_value_heads"] = kv;
    c["hidden_size"] = heads * head_dim;
    c["intermediate_size"] = 1 + rng() % 200;
    c["rope_theta"] = 100.0 + double(rng() % 100000);
    c["tie_word_embeddings"] = bool(rng() % 2);
    const ModelShape s = shape_from_hf_config(c, "drawn");
    const ModelShape back = shape_from_hf_config(shape_to_hf_config(s, "bfloat16"), "round trip");
    CHECK(back.total_params() == s.total_params());
    CHECK(back.key_value_heads() == kv);
    CHECK(back.rope_theta == s.rope_theta);
    CHECK(back.tie_word_embeddings == s.tie_word_embeddings);
  }
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
