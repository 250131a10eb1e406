// The rotary decoders' shared description (LLaMA and the families built like it: Qwen3, Mistral): RMSNorm, rotary
// positions, grouped-query attention, SwiGLU, lm_head unless tied. Each family's file derives from it and states
// what differs (its config.json fields, q/k norms, biases, presets).
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "core/model_family.h"

namespace zo2 {

class RotaryDecoderFamily : public ModelFamily {
 public:
  std::vector<TensorSpec> resident_tensors(const ModelShape& s) const override;
  std::vector<TensorSpec> block_tensors(const ModelShape& s) const override;
  // *ForCausalLM saves "model.*" (and lm_head.weight beside it), the base model saves the names bare.
  std::string hf_model_prefix() const override { return "model."; }
  std::vector<std::string> checkpoint_prefixes() const override { return {"model.", ""}; }
  ModelShape from_hf_config(const HfConfigFields& f) const override;
  void to_hf_config(const ModelShape& s, nlohmann::json& c) const override;
  void validate(const ModelShape& s, const std::string& where) const override;
  double block_forward_flops(const ModelShape& s, int64_t batch, int64_t seq) const override;
  double head_forward_flops(const ModelShape& s, int64_t batch, int64_t seq) const override;
  double embed_forward_flops(const ModelShape&, int64_t, int64_t) const override { return 0.0; }
  BlockCostTerms block_cost_terms(const ModelShape& s) const override;
  LayerWorkspace layer_workspace(const ModelShape& s) const override;
  int64_t head_input_width(const ModelShape& s) const override { return s.hidden; }  // the final RMSNorm's output

 protected:
  // Qwen3: RMSNorm over head_dim on q and k (q_norm, k_norm) before the rotary positions.
  virtual bool qk_norm() const { return false; }
  // Qwen3's attention_bias and Mistral's sliding_window: whether a shape of this family may set them.
  virtual bool allows_attention_bias() const { return false; }
  virtual bool allows_sliding_window() const { return false; }
  virtual std::string architecture() const = 0;
  // The family's own config.json fields, read after and written beside the shared ones.
  virtual void read_family_fields(const HfConfigFields& f, ModelShape& s) const = 0;
  virtual void write_family_fields(const ModelShape& s, nlohmann::json& c) const = 0;
  // A shape of this family with the shared fields set (name, RMSNorm, rotary, SwiGLU, no biases, untied head).
  ModelShape base_shape(int64_t vocab, int64_t hidden, int64_t layers, int64_t heads, int64_t kv_heads, int64_t ffn,
                        int64_t positions) const;
};

}  // namespace zo2
