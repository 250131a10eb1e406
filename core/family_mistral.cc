// The Mistral family (transformers' MistralForCausalLM): LLaMA's block with a head_dim field and a sliding window,
// which runs only where it sees the whole sequence (a longer sequence is refused, naming sliding_window).
#include <stdexcept>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/family_llama.h"
#include "core/hf_config_fields.h"

namespace zo2 {
namespace {

// Mistral-7B-v0.1 and -v0.3's published config.json values.
struct MistralPreset {
  const char* name;
  int64_t vocab;
  double rope_theta;
  int64_t sliding_window;  // 0: null
};
constexpr MistralPreset kPresets[] = {
    {"mistral-7b-v0.1", 32000, 10000.0, 4096},
    {"mistral-7b-v0.3", 32768, 1000000.0, 0},
};

class MistralFamily final : public RotaryDecoderFamily {
 public:
  std::string name() const override { return "mistral"; }
  std::vector<std::string> model_types() const override { return {"mistral"}; }
  std::vector<std::pair<std::string, ModelShape>> presets() const override {
    std::vector<std::pair<std::string, ModelShape>> out;
    for (const auto& p : kPresets) {
      ModelShape s = base_shape(p.vocab, 4096, 32, 32, 8, 14336, 32768);
      s.rms_norm_eps = 1e-5;
      s.rope_theta = p.rope_theta;
      s.sliding_window = p.sliding_window;
      s.bos_token_id = 1;
      s.eos_token_id = 2;
      out.emplace_back(p.name, s);
    }
    return out;
  }
  // HF's sliding-window mask lets a query see its last `sliding_window` keys: the causal mask up to that length.
  void check_sequence(const ModelShape& s, int64_t seq, const std::string& where) const override {
    if (s.sliding_window > 0 && seq > s.sliding_window)
      throw std::invalid_argument(fmt::format(
          "{}: sliding_window {} is smaller than the sequence length {}: sliding-window attention is not supported "
          "(use sequences of at most {} tokens, or a config.json with sliding_window null)",
          where, s.sliding_window, seq, s.sliding_window));
  }

 protected:
  bool allows_sliding_window() const override { return true; }
  std::string architecture() const override { return "MistralForCausalLM"; }
  void read_family_fields(const HfConfigFields& f, ModelShape& s) const override {
    const int64_t head_dim = f.integer("head_dim", false, s.heads > 0 ? s.hidden / s.heads : 0);
    int64_t head_dim_times_heads = 0;  // checked: a huge head_dim must not wrap around to hidden_size
    const bool divides = s.heads > 0 && !__builtin_mul_overflow(head_dim, s.heads, &head_dim_times_heads) &&
                         head_dim_times_heads == s.hidden;
    s.head_size = divides ? 0 : head_dim;
    // MistralConfig's sliding_window defaults to 4096 when the field is absent; null is full attention.
    s.sliding_window = !f.c.contains("sliding_window") ? 4096 : f.integer("sliding_window", false, 0);
    if (s.sliding_window < 0 || (f.c.contains("sliding_window") && f.present("sliding_window") && s.sliding_window == 0))
      throw std::invalid_argument(
          fmt::format("{}: field 'sliding_window' must be positive or null, got {}", f.where, s.sliding_window));
  }
  void write_family_fields(const ModelShape& s, nlohmann::json& c) const override {
    c["sliding_window"] = s.sliding_window > 0 ? nlohmann::json(s.sliding_window) : nlohmann::json(nullptr);
  }
};

}  // namespace

const ModelFamily& family_mistral() {
  static const MistralFamily kFamily;
  return kFamily;
}

}  // namespace zo2
