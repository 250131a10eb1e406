// Model shapes: what every family shares (parameter counts, the common checks, presets and config.json through the
// registry); what differs is asked of the shape's family description (core/model_family.h).
#include "core/model_shape.h"

#include <limits>
#include <stdexcept>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "core/hf_config_fields.h"
#include "core/json_file.h"
#include "core/model_family.h"

namespace zo2 {

int64_t TensorSpec::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

const ModelFamily& ModelShape::desc() const { return model_family(family); }

std::vector<TensorSpec> ModelShape::resident_tensors() const { return desc().resident_tensors(*this); }
std::vector<TensorSpec> ModelShape::block_tensors() const { return desc().block_tensors(*this); }
std::string ModelShape::hf_model_prefix() const { return desc().hf_model_prefix(); }

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
  return desc().block_forward_flops(*this, batch, seq);
}

double ModelShape::head_forward_flops(int64_t batch, int64_t seq) const {
  return desc().head_forward_flops(*this, batch, seq);
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
  bounded(head_size, "head_dim");
  if (head_size < 0)
    throw std::invalid_argument(fmt::format("{}: field 'head_dim' must be positive, got {}", where, head_size));
  if (kv_heads < 0 || kv_heads > heads)  // before the tensor shapes below multiply it out (same message as LLaMA's)
    throw std::invalid_argument(fmt::format("{}: num_attention_heads {} is not a multiple of num_key_value_heads {}",
                                            where, heads, kv_heads));
  int64_t query_width = 0;  // heads x head_dim, a tensor dimension below: bounded like the others
  if (__builtin_mul_overflow(heads, head_dim(), &query_width) || query_width > kMaxDim)
    throw std::invalid_argument(fmt::format("{}: num_attention_heads {} x head_dim {} is more than 2^32 = {}", where,
                                            heads, head_dim(), kMaxDim));
  const ModelFamily* f = nullptr;
  for (const ModelFamily* candidate : model_families())
    if (candidate->name() == family) f = candidate;
  if (f == nullptr) {
    std::vector<std::string> names;
    for (const ModelFamily* candidate : model_families()) names.push_back(candidate->name());
    throw std::invalid_argument(fmt::format("{}: model family '{}' is not supported (expected one of: {})", where,
                                            family, fmt::join(names, ", ")));
  }
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
  f->validate(*this, where);
}

void ModelShape::check_sequence(int64_t seq, const std::string& where) const {
  desc().check_sequence(*this, seq, where);
}

std::vector<std::string> model_preset_names() {
  std::vector<std::string> names;
  for (const ModelFamily* f : model_families())
    for (const auto& [name, shape] : f->presets()) names.push_back(name);
  return names;
}

bool is_preset_name(const std::string& name) {
  for (const auto& n : model_preset_names())
    if (name == n) return true;
  return false;
}

ModelShape model_preset(const std::string& name) {
  for (const ModelFamily* f : model_families())
    for (const auto& [preset, shape] : f->presets())
      if (preset == name) return shape;
  throw std::invalid_argument(fmt::format("unknown model preset '{}' (expected one of: {})", name,
                                          fmt::join(model_preset_names(), ", ")));
}

ModelShape shape_from_hf_config(const nlohmann::json& c, const std::string& where) {
  if (!c.is_object()) throw std::invalid_argument(fmt::format("{}: expected a JSON object", where));
  const HfConfigFields f{c, where};
  // A config.json without model_type is OPT's, as the first files this engine read were.
  const std::string model_type = f.string("model_type", "opt");
  const ModelFamily* family = family_for_model_type(model_type);
  if (family == nullptr) {
    std::vector<std::string> types;
    for (const ModelFamily* candidate : model_families())
      for (const auto& t : candidate->model_types()) types.push_back("'" + t + "'");
    throw std::invalid_argument(fmt::format("{}: field 'model_type' is '{}' (expected {})", where, model_type,
                                            fmt::join(types, ", ")));
  }
  ModelShape s = family->from_hf_config(f);
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
  auto token = [](int64_t id) { return id >= 0 ? nlohmann::json(id) : nlohmann::json(nullptr); };  // -1: none
  c["bos_token_id"] = token(s.bos_token_id);
  c["eos_token_id"] = token(s.eos_token_id);
  c["tie_word_embeddings"] = s.tie_word_embeddings;
  c["attention_dropout"] = 0.0;
  c["torch_dtype"] = torch_dtype;
  const ModelFamily& f = s.desc();
  c["model_type"] = f.model_types().front();
  f.to_hf_config(s, c);
  return c;
}

}  // namespace zo2
