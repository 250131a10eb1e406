// The OPT family (transformers' OPTForCausalLM): learned positions, LayerNorm pre- or post-LN, biases, ReLU or GELU
// FFN, the head tied to embed_tokens, opt-350m's embedding projection.
#include <stdexcept>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/hf_config_fields.h"
#include "core/model_family.h"

namespace zo2 {
namespace {

struct Preset {
  const char* name;
  int64_t hidden, layers, heads, ffn, proj;
  bool pre_ln;
};
constexpr Preset kPresets[] = {
    {"opt-125m", 768, 12, 12, 3072, 768, true},      {"opt-350m", 1024, 24, 16, 4096, 512, false},
    {"opt-1.3b", 2048, 24, 32, 8192, 2048, true},    {"opt-2.7b", 2560, 32, 32, 10240, 2560, true},
    {"opt-6.7b", 4096, 32, 32, 16384, 4096, true},   {"opt-13b", 5120, 40, 40, 20480, 5120, true},
    {"opt-30b", 7168, 48, 56, 28672, 7168, true},    {"opt-66b", 9216, 64, 72, 36864, 9216, true},
    {"opt-175b", 12288, 96, 96, 49152, 12288, true},
};

class OptFamily final : public ModelFamily {
 public:
  std::string name() const override { return "opt"; }
  std::vector<std::string> model_types() const override { return {"opt"}; }

  std::vector<TensorSpec> resident_tensors(const ModelShape& s) const override {
    std::vector<TensorSpec> t;
    t.push_back({"embed_tokens.weight", {s.vocab_size, s.word_embed_proj_dim}, true});
    t.push_back({"embed_positions.weight", {s.max_positions + ModelShape::kPositionOffset, s.hidden}, true});
    if (s.has_projection()) {
      t.push_back({"project_out.weight", {s.word_embed_proj_dim, s.hidden}, true});
      t.push_back({"project_in.weight", {s.hidden, s.word_embed_proj_dim}, true});
    }
    if (s.has_final_layer_norm()) {
      t.push_back({"final_layer_norm.weight", {s.hidden}, false, TensorInit::ones});
      t.push_back({"final_layer_norm.bias", {s.hidden}, false, TensorInit::zeros});
    }
    return t;
  }

  std::vector<TensorSpec> block_tensors(const ModelShape& s) const override {
    std::vector<TensorSpec> t;
    auto linear = [&](const std::string& name, int64_t out, int64_t in) {
      t.push_back({name + ".weight", {out, in}, true});
      if (s.enable_bias) t.push_back({name + ".bias", {out}, false, TensorInit::zeros});
    };
    auto norm = [&](const std::string& name) {
      t.push_back({name + ".weight", {s.hidden}, false, TensorInit::ones});
      t.push_back({name + ".bias", {s.hidden}, false, TensorInit::zeros});
    };
    linear("self_attn.k_proj", s.hidden, s.hidden);
    linear("self_attn.v_proj", s.hidden, s.hidden);
    linear("self_attn.q_proj", s.hidden, s.hidden);
    linear("self_attn.out_proj", s.hidden, s.hidden);
    norm("self_attn_layer_norm");
    linear("fc1", s.ffn, s.hidden);
    linear("fc2", s.hidden, s.ffn);
    norm("final_layer_norm");
    return t;
  }

  // OPTForCausalLM saves "model.decoder.*", OPTModel saves "decoder.*".
  std::string hf_model_prefix() const override { return "model.decoder."; }
  std::vector<std::string> checkpoint_prefixes() const override { return {"model.decoder.", "decoder."}; }

  ModelShape from_hf_config(const HfConfigFields& f) const override {
    const std::string& where = f.where;
    ModelShape s;
    s.vocab_size = f.integer("vocab_size", true, 0);
    s.hidden = f.integer("hidden_size", true, 0);
    s.layers = f.integer("num_hidden_layers", true, 0);
    s.heads = f.integer("num_attention_heads", true, 0);
    s.ffn = f.integer("ffn_dim", true, 0);
    s.max_positions = f.integer("max_position_embeddings", false, 2048);
    s.word_embed_proj_dim = f.integer("word_embed_proj_dim", false, s.hidden);
    s.do_layer_norm_before = f.boolean("do_layer_norm_before", true);
    s.remove_final_layer_norm = f.boolean("_remove_final_layer_norm", false);
    s.enable_bias = f.boolean("enable_bias", true);
    s.pad_token_id = f.integer("pad_token_id", false, 1);
    s.bos_token_id = f.integer("bos_token_id", false, 2);
    s.eos_token_id = f.integer("eos_token_id", false, 2);
    s.activation = f.string("activation_function", s.activation);
    if (!f.boolean("layer_norm_elementwise_affine", true))
      throw std::invalid_argument(
          fmt::format("{}: field 'layer_norm_elementwise_affine' = false is not supported (expected true)", where));
    if (!f.boolean("tie_word_embeddings", true))
      throw std::invalid_argument(
          fmt::format("{}: field 'tie_word_embeddings' = false is not supported (expected true)", where));
    return s;
  }

  void to_hf_config(const ModelShape& s, nlohmann::json& c) const override {
    c["architectures"] = {"OPTForCausalLM"};
    c["ffn_dim"] = s.ffn;
    c["word_embed_proj_dim"] = s.word_embed_proj_dim;
    c["do_layer_norm_before"] = s.do_layer_norm_before;
    c["_remove_final_layer_norm"] = s.remove_final_layer_norm;
    c["enable_bias"] = s.enable_bias;
    c["layer_norm_elementwise_affine"] = true;
    c["activation_function"] = s.activation;
    c["pad_token_id"] = s.pad_token_id;
    c["dropout"] = 0.0;
    c["init_std"] = 0.02;
  }

  void validate(const ModelShape& s, const std::string& where) const override {
    if (s.hidden % s.heads != 0)
      throw std::invalid_argument(fmt::format("{}: hidden_size {} is not a multiple of num_attention_heads {}", where,
                                              s.hidden, s.heads));
    if (s.activation != "relu" && s.activation != "gelu")
      throw std::invalid_argument(
          fmt::format("{}: activation_function '{}' is not supported (expected relu or gelu)", where, s.activation));
    if (!s.tie_word_embeddings)
      throw std::invalid_argument(fmt::format("{}: an OPT shape ties its head to embed_tokens", where));
    if (s.head_size != 0 || s.kv_heads != 0 || s.attention_bias || s.sliding_window != 0)
      throw std::invalid_argument(fmt::format(
          "{}: an OPT shape has no head_dim, num_key_value_heads, attention_bias or sliding_window field", where));
  }

  double block_forward_flops(const ModelShape& s, int64_t batch, int64_t seq) const override {
    const double tokens = double(batch) * double(seq);
    const double linear = 2.0 * tokens * (4.0 * s.hidden * s.hidden + 2.0 * s.hidden * s.ffn);  // q, k, v, out, fc1, fc2
    // QK^T and AV over the causal triangle: seq*(seq+1)/2 query-key pairs per sequence, head_dim*heads = hidden each.
    const double attention = 2.0 * 2.0 * double(batch) * (double(seq) * double(seq + 1) / 2.0) * s.hidden;
    return linear + attention;
  }
  double head_forward_flops(const ModelShape& s, int64_t batch, int64_t seq) const override {
    double flops = 2.0 * double(batch) * double(seq) * double(s.vocab_size) * double(s.word_embed_proj_dim);
    if (s.has_projection())
      flops += 2.0 * double(batch) * double(seq) * double(s.hidden) * double(s.word_embed_proj_dim) * 2.0;
    return flops;
  }
  double embed_forward_flops(const ModelShape& s, int64_t batch, int64_t seq) const override {
    const int64_t tokens = batch * seq;
    return s.has_projection() ? 2.0 * double(tokens) * s.hidden * s.word_embed_proj_dim : 0.0;
  }
  // Ten launches (four projections, SDPA, two norms, two FFN GEMMs and the activation) reading and writing ten
  // [B,T,H] and two [B,T,FFN] activations.
  BlockCostTerms block_cost_terms(const ModelShape& s) const override { return {10, 10 * s.hidden + 2 * s.ffn}; }
  // q, k, v, the attention output and the residual [B,T,H], and fc1's output [B,T,FFN].
  LayerWorkspace layer_workspace(const ModelShape&) const override { return {5, 1, ""}; }
  int64_t head_input_width(const ModelShape& s) const override {
    return s.has_projection() ? s.word_embed_proj_dim : (s.has_final_layer_norm() ? s.hidden : 0);
  }

  std::vector<std::pair<std::string, ModelShape>> presets() const override {
    std::vector<std::pair<std::string, ModelShape>> out;
    for (const auto& p : kPresets) {
      ModelShape s;
      s.hidden = p.hidden;
      s.layers = p.layers;
      s.heads = p.heads;
      s.ffn = p.ffn;
      s.word_embed_proj_dim = p.proj;
      s.do_layer_norm_before = p.pre_ln;
      out.emplace_back(p.name, s);
    }
    return out;
  }
};

}  // namespace

const ModelFamily& family_opt() {
  static const OptFamily kFamily;
  return kFamily;
}

}  // namespace zo2
