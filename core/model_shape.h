// Model shapes (every family's presets, HF config.json), their tensors in checkpoint order, and the sizes and FLOPs
// that the plan builder, the engine and the simulator all take from here. What differs between families is answered
// by the shape's family description (core/model_family.h), found by `family`.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace zo2 {

// One trainable tensor. `name` is relative to its group: "embed_tokens.weight" for the resident group,
// "self_attn.q_proj.weight" inside a block. Weight decay skips biases and norms, as MeZO does.
// `init` is HuggingFace's initialisation of the tensor (matrices and embeddings normal(0, 0.02), biases 0, norm
// weights 1), so the engine initialises any family without reading names.
enum class TensorInit : uint8_t { normal, zeros, ones };
struct TensorSpec {
  std::string name;
  std::vector<int64_t> shape;
  bool decay = true;
  TensorInit init = TensorInit::normal;
  int64_t numel() const;
};

class ModelFamily;

struct ModelShape {
  std::string family = "opt";
  int64_t vocab_size = 50272;
  int64_t hidden = 768;
  int64_t layers = 12;
  int64_t heads = 12;
  int64_t ffn = 3072;
  int64_t max_positions = 2048;
  int64_t word_embed_proj_dim = 768;  // != hidden adds project_in/project_out (opt-350m)
  bool do_layer_norm_before = true;   // pre-LN; false is opt-350m's post-LN
  bool remove_final_layer_norm = false;
  bool enable_bias = true;
  std::string activation = "relu";    // "relu" (OPT) or "gelu" (the peer's GPT)
  int64_t pad_token_id = 1, bos_token_id = 2, eos_token_id = 2;
  // The rotary decoders (LLaMA, Qwen3, Mistral): grouped-query attention, RMSNorm, rotary positions, SwiGLU;
  // word_embed_proj_dim is the hidden size and `activation` "silu". OPT ties its head to embed_tokens; the rotary
  // decoders have lm_head unless tied.
  int64_t kv_heads = 0;  // num_key_value_heads; 0 = heads
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  bool tie_word_embeddings = true;
  int64_t head_size = 0;         // config.json's head_dim when it is not hidden / heads (Qwen3, Mistral); 0 = that
  bool attention_bias = false;   // Qwen3's attention_bias: q, k, v and o projections carry biases
  int64_t sliding_window = 0;    // Mistral's sliding_window; 0 = none (full attention)

  static constexpr int64_t kPositionOffset = 2;  // OPT's learned positions are offset by 2

  // The family's description; throws std::invalid_argument for an unregistered `family`.
  const ModelFamily& desc() const;
  int64_t head_dim() const { return head_size > 0 ? head_size : hidden / heads; }
  int64_t query_width() const { return heads * head_dim(); }  // q_proj's output, o_proj's input
  int64_t key_value_heads() const { return kv_heads > 0 ? kv_heads : heads; }
  bool has_projection() const { return word_embed_proj_dim != hidden; }
  bool has_final_layer_norm() const { return do_layer_norm_before && !remove_final_layer_norm; }

  // The tensors of the resident group (embeddings, projections, final norm, LLaMA's untied lm_head) and of one
  // transformer block, both in HuggingFace's named_parameters() order.
  std::vector<TensorSpec> resident_tensors() const;
  std::vector<TensorSpec> block_tensors() const;
  static std::string block_prefix(int64_t layer);  // "layers.7."
  // Where HuggingFace keeps a tensor: the family's prefix ("model.decoder." for OPT, "model." for the rotary
  // decoders) before its name, except lm_head, which sits beside the decoder ("lm_head.weight"). `model_prefix` is the
  // prefix a checkpoint uses.
  std::string hf_model_prefix() const;
  static std::string checkpoint_key(const std::string& model_prefix, const std::string& name);

  int64_t resident_params() const;
  int64_t block_params() const;
  int64_t total_params() const { return resident_params() + layers * block_params(); }
  // Global element index of the first element of block `layer` (checkpoint order: resident group, then blocks).
  int64_t block_first_index(int64_t layer) const { return resident_params() + layer * block_params(); }

  // Forward FLOPs (multiply-add = 2) for a [batch, seq] input: one block, and the head (logits over the vocabulary).
  // Attention counts the causal half of QK^T and AV.
  double block_forward_flops(int64_t batch, int64_t seq) const;
  double head_forward_flops(int64_t batch, int64_t seq) const;

  // Throws std::invalid_argument with the field name when the shape is inconsistent.
  void validate(const std::string& where) const;
  // Throws std::invalid_argument naming the field (Mistral's sliding_window) when the shape cannot run sequences of
  // `seq` tokens.
  void check_sequence(int64_t seq, const std::string& where) const;
};

// Every family's presets ("opt-125m" ... "opt-175b", "llama-2-7b", "qwen3-8b", "mistral-7b-v0.3", ...); throws
// std::invalid_argument listing the presets for an unknown name.
ModelShape model_preset(const std::string& name);
std::vector<std::string> model_preset_names();
bool is_preset_name(const std::string& name);

// HuggingFace config.json <-> shape (model_type picks the family). Errors name the file and the field.
ModelShape shape_from_hf_config(const nlohmann::json& config, const std::string& where);
ModelShape shape_from_hf_config_file(const std::filesystem::path& path);
nlohmann::json shape_to_hf_config(const ModelShape& shape, const std::string& torch_dtype);

}  // namespace zo2
