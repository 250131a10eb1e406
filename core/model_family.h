// A model family as one description (its tensors, config.json, checkpoint keys, FLOPs and the plan's per-block terms)
// and the registry that finds it by name or by config.json's model_type. Nothing outside a family's own file asks
// which family runs: ModelShape, the plan builder, the memory model and the simulator read these hooks.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/model_shape.h"

namespace zo2 {

struct HfConfigFields;

// The plan's cost terms of one block forward (and the embedding's and head's launches), beside its FLOPs
// (ModelShape::block_forward_flops): the kernels it launches and the activation elements it reads and writes per
// token (the roofline's memory traffic; a profile's measured block timing replaces both).
struct BlockCostTerms {
  int kernels = 10;
  int64_t activation_elements_per_token = 0;
  int embed_kernels = 2, head_kernels = 4;  // one pass's embed/fwd and head/fwd ops
};

// The per-layer forward workspace the memory model charges while a block forward is enqueued: [B,T,H] and [B,T,FFN]
// buffers live at once in the engine's allocator.
struct LayerWorkspace {
  int64_t hidden_buffers = 0, ffn_buffers = 0;
  std::string note;  // appended to the term's description (how the counts were found)
};

class ModelFamily {
 public:
  virtual ~ModelFamily() = default;
  // The registry name ("opt", "qwen3"), also ModelShape::family and a profile record's "family".
  virtual std::string name() const = 0;
  // config.json's model_type values this family reads, the first one written back.
  virtual std::vector<std::string> model_types() const = 0;

  // Tensors of the resident group and of one block, in HuggingFace's named_parameters() order.
  virtual std::vector<TensorSpec> resident_tensors(const ModelShape& s) const = 0;
  virtual std::vector<TensorSpec> block_tensors(const ModelShape& s) const = 0;
  // Checkpoint keys: the prefix transformers' *ForCausalLM writes before the decoder's names, and every prefix found
  // in the wild (tried in order when reading). lm_head sits beside the decoder whatever the prefix.
  virtual std::string hf_model_prefix() const = 0;
  virtual std::vector<std::string> checkpoint_prefixes() const = 0;

  // config.json in (errors name the file and the field) and out (the family's fields; the common ones are written
  // by shape_to_hf_config).
  virtual ModelShape from_hf_config(const HfConfigFields& f) const = 0;
  virtual void to_hf_config(const ModelShape& s, nlohmann::json& c) const = 0;
  // The family's own checks (the common positive-size checks have passed); throws std::invalid_argument naming
  // `where` and the field.
  virtual void validate(const ModelShape& s, const std::string& where) const = 0;
  // A run over sequences of `seq` tokens: throws std::invalid_argument naming the field that forbids it (Mistral's
  // sliding_window). Most families accept any length.
  virtual void check_sequence(const ModelShape&, int64_t /*seq*/, const std::string& /*where*/) const {}

  // Forward FLOPs (multiply-add = 2) of one block, the head (final norm to logits) and the embeddings.
  virtual double block_forward_flops(const ModelShape& s, int64_t batch, int64_t seq) const = 0;
  virtual double head_forward_flops(const ModelShape& s, int64_t batch, int64_t seq) const = 0;
  virtual double embed_forward_flops(const ModelShape& s, int64_t batch, int64_t seq) const = 0;
  virtual BlockCostTerms block_cost_terms(const ModelShape& s) const = 0;
  virtual LayerWorkspace layer_workspace(const ModelShape& s) const = 0;
  // Width of the head GEMM's input when it is a new tensor (a final norm's or projection's output), else 0.
  virtual int64_t head_input_width(const ModelShape& s) const = 0;

  // Presets with HF's shapes: (name, shape).
  virtual std::vector<std::pair<std::string, ModelShape>> presets() const = 0;
};

// Every registered family, in registry order (core/model_families.def).
const std::vector<const ModelFamily*>& model_families();
// Throws std::invalid_argument naming `where` and listing the families for an unknown name.
const ModelFamily& model_family(const std::string& name, const std::string& where = "model family");
// The family reading config.json's model_type, or nullptr.
const ModelFamily* family_for_model_type(const std::string& model_type);

}  // namespace zo2
