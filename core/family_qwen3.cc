// The Qwen3 family (transformers' Qwen3ForCausalLM): LLaMA's block with an RMSNorm over head_dim on q and k, a
// head_dim from config.json that need not be hidden / heads, optional attention biases, tied or untied head.
#include <stdexcept>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/family_llama.h"
#include "core/hf_config_fields.h"

namespace zo2 {
namespace {

// Qwen3-*'s published config.json values: vocab 151936, head_dim 128, 8 key-value heads, rope_theta 1e6,
// rms_norm_eps 1e-6, 40960 positions; the three smallest tie their head to embed_tokens.
struct Qwen3Preset {
  const char* name;
  int64_t hidden, layers, heads, ffn;
  bool tied;
};
constexpr Qwen3Preset kPresets[] = {
    {"qwen3-0.6b", 1024, 28, 16, 3072, true},  {"qwen3-1.7b", 2048, 28, 16, 6144, true},
    {"qwen3-4b", 2560, 36, 32, 9728, true},    {"qwen3-8b", 4096, 36, 32, 12288, false},
    {"qwen3-14b", 5120, 40, 40, 17408, false}, {"qwen3-32b", 5120, 64, 64, 25600, false},
};

class Qwen3Family final : public RotaryDecoderFamily {
 public:
  std::string name() const override { return "qwen3"; }
  std::vector<std::string> model_types() const override { return {"qwen3"}; }
  std::vector<std::pair<std::string, ModelShape>> presets() const override {
    std::vector<std::pair<std::string, ModelShape>> out;
    for (const auto& p : kPresets) {
      ModelShape s = base_shape(151936, p.hidden, p.layers, p.heads, 8, p.ffn, 40960);
      s.head_size = p.hidden == 128 * p.heads ? 0 : 128;
      s.rms_norm_eps = 1e-6;
      s.rope_theta = 1000000.0;
      s.tie_word_embeddings = p.tied;
      s.bos_token_id = 151643;
      s.eos_token_id = 151645;
      out.emplace_back(p.name, s);
    }
    return out;
  }

 protected:
  bool qk_norm() const override { return true; }
  bool allows_attention_bias() const override { return true; }
  std::string architecture() const override { return "Qwen3ForCausalLM"; }
  void read_family_fields(const HfConfigFields& f, ModelShape& s) const override {
    // Qwen3Config's head_dim defaults to 128, whatever hidden_size / num_attention_heads is.
    const int64_t head_dim = f.integer("head_dim", false, 128);
    int64_t head_dim_times_heads = 0;  // checked: a huge head_dim must not wrap around to hidden_size
    const bool divides = s.heads > 0 && !__builtin_mul_overflow(head_dim, s.heads, &head_dim_times_heads) &&
                         head_dim_times_heads == s.hidden;
    s.head_size = divides ? 0 : head_dim;
    s.attention_bias = f.boolean("attention_bias", false);
    if (f.boolean("use_sliding_window", false))
      throw std::invalid_argument(fmt::format("{}: field 'use_sliding_window' = true is not supported (sliding-window "
                                              "layers; expected false, every layer full attention)", f.where));
    if (f.present("layer_types")) {
      const nlohmann::json& types = f.c["layer_types"];
      if (!types.is_array())
        throw std::invalid_argument(fmt::format("{}: field 'layer_types' must be an array", f.where));
      for (const auto& t : types)
        if (t != "full_attention")
          throw std::invalid_argument(fmt::format("{}: field 'layer_types' holds {} (only \"full_attention\" layers "
                                                  "are supported)", f.where, t.dump()));
    }
    s.bos_token_id = f.integer("bos_token_id", false, -1);
    s.eos_token_id = f.integer("eos_token_id", false, -1);
  }
  void write_family_fields(const ModelShape& s, nlohmann::json& c) const override {
    c["attention_bias"] = s.attention_bias;
    c["use_sliding_window"] = false;
    c["sliding_window"] = nullptr;
    c["max_window_layers"] = s.layers;
    c["layer_types"] = std::vector<std::string>(size_t(s.layers), "full_attention");
  }
};

}  // namespace

const ModelFamily& family_qwen3() {
  static const Qwen3Family kFamily;
  return kFamily;
}

}  // namespace zo2
