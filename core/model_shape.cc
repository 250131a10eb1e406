// OPT shapes: presets, config.json parsing, tensor lists in checkpoint order, parameter counts and FLOPs.
#include "core/model_shape.h"

#include <stdexcept>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "core/json_file.h"

namespace zo2 {

int64_t TensorSpec::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::vector<TensorSpec> ModelShape::resident_tensors() const {
  std::vector<TensorSpec> t;
  t.push_back({"embed_tokens.weight", {vocab_size, word_embed_proj_dim}, true});
  t.push_back({"embed_positions.weight", {max_positions + kPositionOffset, hidden}, true});
  if (has_projection()) {
    t.push_back({"project_out.weight", {word_embed_proj_dim, hidden}, true});
    t.push_back({"project_in.weight", {hidden, word_embed_proj_dim}, true});
  }
  if (has_final_layer_norm()) {
    t.push_back({"final_layer_norm.weight", {hidden}, false});
    t.push_back({"final_layer_norm.bias", {hidden}, false});
  }
  return t;
}

std::vector<TensorSpec> ModelShape::block_tensors() const {
  std::vector<TensorSpec> t;
  auto linear = [&](const std::string& name, int64_t out, int64_t in) {
    t.push_back({name + ".weight", {out, in}, true});
    if (enable_bias) t.push_back({name + ".bias", {out}, false});
  };
  auto norm = [&](const std::string& name) {
    t.push_back({name + ".weight", {hidden}, false});
    t.push_back({name + ".bias", {hidden}, false});
  };
  linear("self_attn.k_proj", hidden, hidden);
  linear("self_attn.v_proj", hidden, hidden);
  linear("self_attn.q_proj", hidden, hidden);
  linear("self_attn.out_proj", hidden, hidden);
  norm("self_attn_layer_norm");
  linear("fc1", ffn, hidden);
  linear("fc2", hidden, ffn);
  norm("final_layer_norm");
  return t;
}

std::string ModelShape::block_prefix(int64_t layer) { return fmt::format("layers.{}.", layer); }

static int64_t sum_numel(const std::vector<TensorSpec>& specs) {
  int64_t n = 0;
  for (const auto& s : specs) n += s.numel();
  return n;
}

int64_t ModelShape::resident_params() const { return sum_numel(resident_tensors()); }
int64_t ModelShape::block_params() const { return sum_numel(block_tensors()); }

double ModelShape::block_forward_flops(int64_t batch, int64_t seq) const {
  const double tokens = double(batch) * double(seq);
  const double linear = 2.0 * tokens * (4.0 * hidden * hidden + 2.0 * hidden * ffn);
  // QK^T and AV over the causal triangle: seq*(seq+1)/2 query-key pairs per sequence, head_dim*heads = hidden each.
  const double attention = 2.0 * 2.0 * double(batch) * (double(seq) * double(seq + 1) / 2.0) * hidden;
  return linear + attention;
}

double ModelShape::head_forward_flops(int64_t batch, int64_t seq) const {
  double flops = 2.0 * double(batch) * double(seq) * double(vocab_size) * double(word_embed_proj_dim);
  if (has_projection()) flops += 2.0 * double(batch) * double(seq) * double(hidden) * double(word_embed_proj_dim) * 2.0;
  return flops;
}

void ModelShape::validate(const std::string& where) const {
  auto positive = [&](int64_t v, const char* field) {
    if (v <= 0) throw std::invalid_argument(fmt::format("{}: field '{}' must be positive, got {}", where, field, v));
  };
  positive(vocab_size, "vocab_size");
  positive(hidden, "hidden_size");
  positive(layers, "num_hidden_layers");
  positive(heads, "num_attention_heads");
  positive(ffn, "ffn_dim");
  positive(max_positions, "max_position_embeddings");
  positive(word_embed_proj_dim, "word_embed_proj_dim");
  if (hidden % heads != 0)
    throw std::invalid_argument(fmt::format("{}: hidden_size {} is not a multiple of num_attention_heads {}", where,
                                            hidden, heads));
  if (activation != "relu" && activation != "gelu")
    throw std::invalid_argument(
        fmt::format("{}: activation_function '{}' is not supported (expected relu or gelu)", where, activation));
  if (family != "opt")
    throw std::invalid_argument(fmt::format("{}: model family '{}' is not supported (expected opt)", where, family));
}

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
}  // namespace

std::vector<std::string> opt_preset_names() {
  std::vector<std::string> names;
  for (const auto& p : kPresets) names.emplace_back(p.name);
  return names;
}

bool is_preset_name(const std::string& name) {
  for (const auto& p : kPresets)
    if (name == p.name) return true;
  return false;
}

ModelShape opt_preset(const std::string& name) {
  for (const auto& p : kPresets) {
    if (name != p.name) continue;
    ModelShape s;
    s.hidden = p.hidden;
    s.layers = p.layers;
    s.heads = p.heads;
    s.ffn = p.ffn;
    s.word_embed_proj_dim = p.proj;
    s.do_layer_norm_before = p.pre_ln;
    return s;
  }
  throw std::invalid_argument(fmt::format("unknown model preset '{}' (expected one of: {})", name,
                                          fmt::join(opt_preset_names(), ", ")));
}

ModelShape shape_from_hf_config(const nlohmann::json& c, const std::string& where) {
  if (!c.is_object()) throw std::invalid_argument(fmt::format("{}: expected a JSON object", where));
  auto model_type = c.value("model_type", std::string("opt"));
  if (model_type != "opt")
    throw std::invalid_argument(fmt::format("{}: field 'model_type' is '{}' (expected 'opt')", where, model_type));
  auto integer = [&](const char* field, bool required, int64_t fallback) -> int64_t {
    if (!c.contains(field) || c[field].is_null()) {
      if (required) throw std::invalid_argument(fmt::format("{}: missing field '{}'", where, field));
      return fallback;
    }
    if (!c[field].is_number_integer())
      throw std::invalid_argument(fmt::format("{}: field '{}' must be an integer, got {}", where, field, c[field].dump()));
    return c[field].get<int64_t>();
  };
  auto boolean = [&](const char* field, bool fallback) -> bool {
    if (!c.contains(field) || c[field].is_null()) return fallback;
    if (!c[field].is_boolean())
      throw std::invalid_argument(fmt::format("{}: field '{}' must be true or false, got {}", where, field, c[field].dump()));
    return c[field].get<bool>();
  };
  ModelShape s;
  s.vocab_size = integer("vocab_size", true, 0);
  s.hidden = integer("hidden_size", true, 0);
  s.layers = integer("num_hidden_layers", true, 0);
  s.heads = integer("num_attention_heads", true, 0);
  s.ffn = integer("ffn_dim", true, 0);
  s.max_positions = integer("max_position_embeddings", false, 2048);
  s.word_embed_proj_dim = integer("word_embed_proj_dim", false, s.hidden);
  s.do_layer_norm_before = boolean("do_layer_norm_before", true);
  s.remove_final_layer_norm = boolean("_remove_final_layer_norm", false);
  s.enable_bias = boolean("enable_bias", true);
  s.pad_token_id = integer("pad_token_id", false, 1);
  s.bos_token_id = integer("bos_token_id", false, 2);
  s.eos_token_id = integer("eos_token_id", false, 2);
  if (c.contains("activation_function")) s.activation = c["activation_function"].get<std::string>();
  if (!boolean("layer_norm_elementwise_affine", true))
    throw std::invalid_argument(
        fmt::format("{}: field 'layer_norm_elementwise_affine' = false is not supported (expected true)", where));
  if (!boolean("tie_word_embeddings", true))
    throw std::invalid_argument(fmt::format("{}: field 'tie_word_embeddings' = false is not supported (expected true)", where));
  s.validate(where);
  return s;
}

ModelShape shape_from_hf_config_file(const std::filesystem::path& path) {
  return shape_from_hf_config(read_json_file(path), path.string());
}

nlohmann::json shape_to_hf_config(const ModelShape& s, const std::string& torch_dtype) {
  nlohmann::json c;
  c["architectures"] = {"OPTForCausalLM"};
  c["model_type"] = "opt";
  c["vocab_size"] = s.vocab_size;
  c["hidden_size"] = s.hidden;
  c["num_hidden_layers"] = s.layers;
  c["num_attention_heads"] = s.heads;
  c["ffn_dim"] = s.ffn;
  c["max_position_embeddings"] = s.max_positions;
  c["word_embed_proj_dim"] = s.word_embed_proj_dim;
  c["do_layer_norm_before"] = s.do_layer_norm_before;
  c["_remove_final_layer_norm"] = s.remove_final_layer_norm;
  c["enable_bias"] = s.enable_bias;
  c["layer_norm_elementwise_affine"] = true;
  c["activation_function"] = s.activation;
  c["pad_token_id"] = s.pad_token_id;
  c["bos_token_id"] = s.bos_token_id;
  c["eos_token_id"] = s.eos_token_id;
  c["tie_word_embeddings"] = true;
  c["dropout"] = 0.0;
  c["attention_dropout"] = 0.0;
  c["init_std"] = 0.02;
  c["torch_dtype"] = torch_dtype;
  return c;
}

}  // namespace zo2
