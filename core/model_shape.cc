// OPT and LLaMA shapes: presets, config.json parsing, tensor lists in checkpoint order, parameter counts and FLOPs.
#include "core/model_shape.h"

#include <limits>
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
  if (is_llama()) {
    t.push_back({"embed_tokens.weight", {vocab_size, hidden}, true});
    t.push_back({"norm.weight", {hidden}, false});
    if (!tie_word_embeddings) t.push_back({"lm_head.weight", {vocab_size, hidden}, true});
    return t;
  }
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
  if (is_llama()) {  // LlamaDecoderLayer: attention, MLP, then the two RMSNorm weights; no biases
    const int64_t kv = key_value_heads() * head_dim();
    t.push_back({"self_attn.q_proj.weight", {hidden, hidden}, true});
    t.push_back({"self_attn.k_proj.weight", {kv, hidden}, true});
    t.push_back({"self_attn.v_proj.weight", {kv, hidden}, true});
    t.push_back({"self_attn.o_proj.weight", {hidden, hidden}, true});
    t.push_back({"mlp.gate_proj.weight", {ffn, hidden}, true});
    t.push_back({"mlp.up_proj.weight", {ffn, hidden}, true});
    t.push_back({"mlp.down_proj.weight", {hidden, ffn}, true});
    t.push_back({"input_layernorm.weight", {hidden}, false});
    t.push_back({"post_attention_layernorm.weight", {hidden}, false});
    return t;
  }
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

std::string ModelShape::checkpoint_key(const std::string& model_prefix, const std::string& name) {
  return name.rfind("lm_head.", 0) == 0 ? name : model_prefix + name;
}

static int64_t sum_numel(const std::vector<TensorSpec>& specs) {
  int64_t n = 0;
  for (const auto& s : specs) n += s.numel();
  return n;
}

int64_t ModelShape::resident_params() const { return sum_numel(resident_tensors()); }
int64_t ModelShape::block_params() const { return sum_numel(block_tensors()); }

double ModelShape::block_forward_flops(int64_t batch, int64_t seq) const {
  const double tokens = double(batch) * double(seq);
  // OPT: q, k, v, out and two FFN matrices; LLaMA: q and o full, k and v over the key-value heads, three SwiGLU ones.
  const double kv = double(key_value_heads() * head_dim());
  const double linear = is_llama() ? 2.0 * tokens * (2.0 * hidden * hidden + 2.0 * hidden * kv + 3.0 * hidden * ffn)
                                   : 2.0 * tokens * (4.0 * hidden * hidden + 2.0 * hidden * ffn);
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
  // Every user multiplies these out (parameter counts, byte counts, offsets into a slab): each dimension at most
  // 2^32 and the parameter count, at up to 16 bytes per parameter, within a 64-bit byte count.
  constexpr int64_t kMaxDim = int64_t(1) << 32;
  auto bounded = [&](int64_t v, const char* field) {
    if (v > kMaxDim)
      throw std::invalid_argument(fmt::format("{}: field '{}' is {}, more than 2^32 = {}", where, field, v, kMaxDim));
  };
  bounded(vocab_size, "vocab_size");
  bounded(hidden, "hidden_size");
  bounded(layers, "num_hidden_layers");
  bounded(heads, "num_attention_heads");
  bounded(ffn, "ffn_dim");
  bounded(max_positions, "max_position_embeddings");
  bounded(word_embed_proj_dim, "word_embed_proj_dim");
  if (kv_heads < 0 || kv_heads > heads)  // before the tensor shapes below multiply it out (same message as LLaMA's)
    throw std::invalid_argument(fmt::format("{}: num_attention_heads {} is not a multiple of num_key_value_heads {}",
                                            where, heads, kv_heads));
  constexpr int64_t kMaxParams = std::numeric_limits<int64_t>::max() / 16;
  auto checked_sum = [&](const std::vector<TensorSpec>& tensors) {
    int64_t total = 0;
    for (const auto& t : tensors) {
      int64_t n = 1;
      for (int64_t d : t.shape)
        if (__builtin_mul_overflow(n, d, &n) || n > kMaxParams) return kMaxParams + 1;
      if (__builtin_add_overflow(total, n, &total) || total > kMaxParams) return kMaxParams + 1;
    }
    return total;
  };
  int64_t all_blocks = 0, total = 0;
  if (__builtin_mul_overflow(checked_sum(block_tensors()), layers, &all_blocks) ||
      __builtin_add_overflow(all_blocks, checked_sum(resident_tensors()), &total) || total > kMaxParams)
    throw std::invalid_argument(fmt::format("{}: the shape has more than 2^59 parameters (hidden_size {}, ffn_dim {}, "
                                            "num_hidden_layers {}, vocab_size {})", where, hidden, ffn, layers,
                                            vocab_size));
  if (hidden % heads != 0)
    throw std::invalid_argument(fmt::format("{}: hidden_size {} is not a multiple of num_attention_heads {}", where,
                                            hidden, heads));
  if (family != "opt" && family != "llama")
    throw std::invalid_argument(
        fmt::format("{}: model family '{}' is not supported (expected opt or llama)", where, family));
  if (is_llama()) {
    if (key_value_heads() <= 0 || heads % key_value_heads() != 0)
      throw std::invalid_argument(fmt::format("{}: num_attention_heads {} is not a multiple of num_key_value_heads {}",
                                              where, heads, key_value_heads()));
    if (activation != "silu")
      throw std::invalid_argument(fmt::format("{}: hidden_act '{}' is not supported (expected silu)", where, activation));
    if (word_embed_proj_dim != hidden || enable_bias)
      throw std::invalid_argument(fmt::format("{}: a LLaMA shape has no embedding projection and no biases", where));
    if (!(rms_norm_eps > 0) || !(rope_theta > 0))
      throw std::invalid_argument(fmt::format("{}: fields 'rms_norm_eps' ({}) and 'rope_theta' ({}) must be positive",
                                              where, rms_norm_eps, rope_theta));
    if (head_dim() % 2 != 0)
      throw std::invalid_argument(fmt::format("{}: head_dim {} must be even (rotary positions rotate pairs)", where,
                                              head_dim()));
    return;
  }
  if (activation != "relu" && activation != "gelu")
    throw std::invalid_argument(
        fmt::format("{}: activation_function '{}' is not supported (expected relu or gelu)", where, activation));
  if (!tie_word_embeddings)
    throw std::invalid_argument(fmt::format("{}: an OPT shape ties its head to embed_tokens", where));
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
// LLaMA checkpoints' config.json values (Llama-2-7b/13b/70b-hf, Meta-Llama-3-8B).
struct LlamaPreset {
  const char* name;
  int64_t vocab, hidden, layers, heads, kv_heads, ffn, positions;
  double rms_norm_eps, rope_theta;
  int64_t bos, eos;
};
constexpr LlamaPreset kLlamaPresets[] = {
    {"llama-2-7b", 32000, 4096, 32, 32, 32, 11008, 4096, 1e-5, 10000.0, 1, 2},
    {"llama-2-13b", 32000, 5120, 40, 40, 40, 13824, 4096, 1e-5, 10000.0, 1, 2},
    {"llama-2-70b", 32000, 8192, 80, 64, 8, 28672, 4096, 1e-5, 10000.0, 1, 2},
    {"llama-3-8b", 128256, 4096, 32, 32, 8, 14336, 8192, 1e-5, 500000.0, 128000, 128001},
};

ModelShape llama_shape(int64_t vocab, int64_t hidden, int64_t layers, int64_t heads, int64_t kv_heads, int64_t ffn,
                       int64_t positions) {
  ModelShape s;
  s.family = "llama";
  s.vocab_size = vocab;
  s.hidden = s.word_embed_proj_dim = hidden;
  s.layers = layers;
  s.heads = heads;
  s.kv_heads = kv_heads;
  s.ffn = ffn;
  s.max_positions = positions;
  s.enable_bias = false;
  s.activation = "silu";
  s.tie_word_embeddings = false;
  s.pad_token_id = -1;  // LLaMA has none
  return s;
}
}  // namespace

std::vector<std::string> model_preset_names() {
  std::vector<std::string> names;
  for (const auto& p : kPresets) names.emplace_back(p.name);
  for (const auto& p : kLlamaPresets) names.emplace_back(p.name);
  return names;
}

bool is_preset_name(const std::string& name) {
  for (const auto& n : model_preset_names())
    if (name == n) return true;
  return false;
}

ModelShape model_preset(const std::string& name) {
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
  for (const auto& p : kLlamaPresets) {
    if (name != p.name) continue;
    ModelShape s = llama_shape(p.vocab, p.hidden, p.layers, p.heads, p.kv_heads, p.ffn, p.positions);
    s.rms_norm_eps = p.rms_norm_eps;
    s.rope_theta = p.rope_theta;
    s.bos_token_id = p.bos;
    s.eos_token_id = p.eos;
    return s;
  }
  throw std::invalid_argument(fmt::format("unknown model preset '{}' (expected one of: {})", name,
                                          fmt::join(model_preset_names(), ", ")));
}

namespace {

// Typed field readers over one config.json object; errors name the file and the field.
struct ConfigFields {
  const nlohmann::json& c;
  const std::string& where;
  bool present(const char* field) const { return c.contains(field) && !c[field].is_null(); }
  // The field of `o` as a T when `is_type` accepts it, `fallback` when absent or null (or an error when `required`).
  template <typename T>
  T get(const nlohmann::json& o, const char* field, bool required, T fallback, bool (nlohmann::json::*is_type)() const,
        const char* expected) const {
    if (!o.contains(field) || o[field].is_null()) {
      if (required) throw std::invalid_argument(fmt::format("{}: missing field '{}'", where, field));
      return fallback;
    }
    if (!(o[field].*is_type)())
      throw std::invalid_argument(fmt::format("{}: field '{}' must be {}, got {}", where, field, expected, o[field].dump()));
    return o[field].get<T>();
  }
  int64_t integer(const char* field, bool required, int64_t fallback) const {
    return get<int64_t>(c, field, required, fallback, &nlohmann::json::is_number_integer, "an integer");
  }
  bool boolean(const char* field, bool fallback) const {
    return get<bool>(c, field, false, fallback, &nlohmann::json::is_boolean, "true or false");
  }
  double number(const nlohmann::json& o, const char* field, double fallback) const {
    return get<double>(o, field, false, fallback, &nlohmann::json::is_number, "a number");
  }
  std::string string(const char* field, const std::string& fallback) const {
    return get<std::string>(c, field, false, fallback, &nlohmann::json::is_string, "a string");
  }
};

// LlamaForCausalLM's config (transformers 5 writes rope_theta inside rope_parameters; older files at the top level).
ModelShape llama_from_hf_config(const ConfigFields& f) {
  const std::string& where = f.where;
  ModelShape s = llama_shape(f.integer("vocab_size", true, 0), f.integer("hidden_size", true, 0),
                             f.integer("num_hidden_layers", true, 0), f.integer("num_attention_heads", true, 0), 0,
                             f.integer("intermediate_size", true, 0), f.integer("max_position_embeddings", false, 2048));
  s.kv_heads = f.integer("num_key_value_heads", false, s.heads);
  s.rms_norm_eps = f.number(f.c, "rms_norm_eps", 1e-6);
  s.rope_theta = f.number(f.c, "rope_theta", 10000.0);
  if (f.present("rope_parameters")) {
    const nlohmann::json& r = f.c["rope_parameters"];
    if (!r.is_object()) throw std::invalid_argument(fmt::format("{}: field 'rope_parameters' must be an object", where));
    const std::string type = r.value("rope_type", std::string("default"));
    if (type != "default")
      throw std::invalid_argument(fmt::format(
          "{}: field 'rope_parameters.rope_type' is '{}' (only 'default' rotary positions are supported)", where, type));
    s.rope_theta = f.number(r, "rope_theta", s.rope_theta);
  }
  if (f.present("rope_scaling"))
    throw std::invalid_argument(fmt::format("{}: field 'rope_scaling' is set (only unscaled rotary positions are "
                                            "supported)", where));
  s.tie_word_embeddings = f.boolean("tie_word_embeddings", false);
  s.activation = f.string("hidden_act", "silu");
  if (f.boolean("attention_bias", false) || f.boolean("mlp_bias", false))
    throw std::invalid_argument(fmt::format("{}: fields 'attention_bias' / 'mlp_bias' = true are not supported "
                                            "(expected false)", where));
  int64_t head_dim_times_heads = 0;  // checked: a huge head_dim must not wrap around to hidden_size
  if (f.present("head_dim") &&
      (__builtin_mul_overflow(f.integer("head_dim", false, 0), s.heads, &head_dim_times_heads) ||
       head_dim_times_heads != s.hidden))
    throw std::invalid_argument(fmt::format("{}: field 'head_dim' must be hidden_size / num_attention_heads = {}",
                                            where, s.heads > 0 ? s.hidden / s.heads : 0));
  if (f.integer("pretraining_tp", false, 1) != 1)
    throw std::invalid_argument(fmt::format("{}: field 'pretraining_tp' must be 1", where));
  s.pad_token_id = f.integer("pad_token_id", false, -1);
  s.bos_token_id = f.integer("bos_token_id", false, 1);
  s.eos_token_id = f.integer("eos_token_id", false, 2);
  s.validate(where);
  return s;
}

}  // namespace

ModelShape shape_from_hf_config(const nlohmann::json& c, const std::string& where) {
  if (!c.is_object()) throw std::invalid_argument(fmt::format("{}: expected a JSON object", where));
  const ConfigFields f{c, where};
  const std::string model_type = f.string("model_type", "opt");
  if (model_type == "llama") return llama_from_hf_config(f);
  if (model_type != "opt")
    throw std::invalid_argument(
        fmt::format("{}: field 'model_type' is '{}' (expected 'opt' or 'llama')", where, model_type));
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
    throw std::invalid_argument(fmt::format("{}: field 'tie_word_embeddings' = false is not supported (expected true)", where));
  s.validate(where);
  return s;
}

ModelShape shape_from_hf_config_file(const std::filesystem::path& path) {
  return shape_from_hf_config(read_json_file(path), path.string());
}

nlohmann::json shape_to_hf_config(const ModelShape& s, const std::string& torch_dtype) {
  nlohmann::json c;
  c["vocab_size"] = s.vocab_size;
  c["hidden_size"] = s.hidden;
  c["num_hidden_layers"] = s.layers;
  c["num_attention_heads"] = s.heads;
  c["max_position_embeddings"] = s.max_positions;
  c["bos_token_id"] = s.bos_token_id;
  c["eos_token_id"] = s.eos_token_id;
  c["tie_word_embeddings"] = s.tie_word_embeddings;
  c["attention_dropout"] = 0.0;
  c["torch_dtype"] = torch_dtype;
  if (s.is_llama()) {
    c["architectures"] = {"LlamaForCausalLM"};
    c["model_type"] = "llama";
    c["intermediate_size"] = s.ffn;
    c["num_key_value_heads"] = s.key_value_heads();
    c["head_dim"] = s.head_dim();
    c["rms_norm_eps"] = s.rms_norm_eps;
    c["rope_parameters"] = {{"rope_type", "default"}, {"rope_theta", s.rope_theta}};
    c["hidden_act"] = s.activation;
    c["attention_bias"] = false;
    c["mlp_bias"] = false;
    c["pad_token_id"] = s.pad_token_id >= 0 ? nlohmann::json(s.pad_token_id) : nlohmann::json(nullptr);
    c["initializer_range"] = 0.02;
    return c;
  }
  c["architectures"] = {"OPTForCausalLM"};
  c["model_type"] = "opt";
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
  return c;
}

}  // namespace zo2
