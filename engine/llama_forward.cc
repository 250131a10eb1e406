// The rotary decoders' forward in ATen ops, matching transformers 5.17's LlamaForCausalLM (eval, SDPA attention, no
// mask) op for op, so that half precision rounds where HF rounds; Qwen3's q/k norms and attention biases where the
// shape and options ask for them. Registers LLaMA's forward.
#include "engine/llama_forward.h"

#include <ATen/ATen.h>

#include <cmath>
#include <map>
#include <mutex>
#include <string>
#include <tuple>

#include "engine/cuda_glue.h"
#include "engine/model_forward.h"
#include "engine/rotary_fused.h"

namespace zo2 {
namespace {

// LlamaRMSNorm: the statistics in fp32, the normalised value cast back to the input's dtype before the weight
// multiplies it (in the weight's dtype), as HF rounds.
at::Tensor rms_norm(const at::Tensor& weight, const at::Tensor& x, double eps) {
  const c10::ScalarType input_dtype = x.scalar_type();
  at::Tensor h = x.to(at::kFloat);
  const at::Tensor variance = h.pow(2).mean(-1, /*keepdim=*/true);
  h = h * at::rsqrt(variance + eps);
  return weight * h.to(input_dtype);
}

// HF's default rope inverse frequencies, 1 / theta^(arange(0, d, 2) / d) in fp32. HF computes them on the CPU when the
// model is built and moves the buffer to the GPU, so they are computed here on the CPU too (CUDA's pow and division
// may round differently). Called once per rotary_cos_sin cache entry.
at::Tensor inverse_frequencies(int64_t dim, double theta, c10::Device device) {
  // Python's `1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.float) / dim))`: __rtruediv__ is reciprocal() * 1.
  const at::Tensor exponent = at::arange(0, dim, 2, at::TensorOptions().dtype(at::kFloat)) / dim;
  return at::pow(theta, exponent).reciprocal().to(device);
}

// LlamaRotaryEmbedding.forward for positions 0..T-1: the angles and their cos/sin in fp32 on the device, cast to the
// hidden states' dtype. Shapes [1, T, head_dim].
std::pair<at::Tensor, at::Tensor> compute_cos_sin(const ModelShape& s, int64_t T, const at::Tensor& like) {
  const at::Tensor inv = inverse_frequencies(s.head_dim(), s.rope_theta, like.device());
  const at::Tensor inv_expanded = inv.view({1, -1, 1}).to(at::kFloat);
  const at::Tensor positions = at::arange(T, like.options().dtype(at::kLong)).view({1, 1, T}).to(at::kFloat);
  // HF's `inv_freq @ positions` (one product per element, exact in fp32) then transpose to [1, T, d/2].
  const at::Tensor freqs = at::matmul(inv_expanded, positions).transpose(1, 2);
  const at::Tensor emb = at::cat({freqs, freqs}, -1);
  return {emb.cos().to(like.scalar_type()), emb.sin().to(like.scalar_type())};
}

at::Tensor rotate_half(const at::Tensor& x) {
  const int64_t half = x.size(-1) / 2;
  return at::cat({at::neg(x.narrow(-1, half, half)), x.narrow(-1, 0, half)}, -1);
}

at::Tensor self_attention(const ModelShape& s, const ParamSlab& p, const at::Tensor& x, const RotaryBlockOptions& opt) {
  const int64_t B = x.size(0), T = x.size(1), d = s.head_dim();
  // [B, T, heads * d] -> [B, T, heads, d], Qwen3's per-head RMSNorm there, then [B, heads, T, d].
  auto heads = [&](const at::Tensor& t, const char* norm) {
    at::Tensor h = t.view({B, T, -1, d});
    if (norm != nullptr) h = rms_norm(p.view(norm), h, s.rms_norm_eps);
    return h.transpose(1, 2);
  };
  const char* q_norm = opt.qk_norm ? "self_attn.q_norm.weight" : nullptr;
  const char* k_norm = opt.qk_norm ? "self_attn.k_norm.weight" : nullptr;
  at::Tensor q = heads(rotary_projection(s, p, "self_attn.q_proj", x), q_norm);
  at::Tensor k = heads(rotary_projection(s, p, "self_attn.k_proj", x), k_norm);
  at::Tensor v = heads(rotary_projection(s, p, "self_attn.v_proj", x), nullptr);
  auto [cos, sin] = rotary_cos_sin(s, T, x);
  cos = cos.unsqueeze(1);
  sin = sin.unsqueeze(1);
  q = q * cos + rotate_half(q) * sin;
  k = k * cos + rotate_half(k) * sin;
  return rotary_projection(s, p, "self_attn.o_proj", rotary_attention(s, q, k, v));
}

at::Tensor mlp(const ParamSlab& p, const at::Tensor& x) {
  const at::Tensor gate = at::silu(at::linear(x, p.view("mlp.gate_proj.weight")));
  return at::linear(gate * at::linear(x, p.view("mlp.up_proj.weight")), p.view("mlp.down_proj.weight"));
}

}  // namespace

// The same values for every block and both passes of a step: computed once per (device, dtype, length, head_dim,
// theta) and kept, instead of eight small kernels in each block's forward. Never freed: a static's destructor would
// free GPU memory after CUDA has shut down.
std::pair<at::Tensor, at::Tensor> rotary_cos_sin(const ModelShape& s, int64_t T, const at::Tensor& like) {
  static std::mutex mu;
  using Key = std::tuple<std::string, int, int64_t, int64_t, double>;
  static auto* cache = new std::map<Key, std::pair<at::Tensor, at::Tensor>>();
  const Key key{like.device().str(), int(like.scalar_type()), T, s.head_dim(), s.rope_theta};
  std::lock_guard<std::mutex> lock(mu);
  auto it = cache->find(key);
  if (it != cache->end()) return it->second;
  auto cos_sin = compute_cos_sin(s, T, like);
  // Other streams (calibration, a later executor) may read the tensors: let their computation finish first, once.
  if (like.is_cuda()) cuda_synchronize();
  return cache->emplace(key, std::move(cos_sin)).first->second;
}

// With Qwen3's attention_bias, q, k, v and o carry biases.
at::Tensor rotary_projection(const ModelShape& s, const ParamSlab& p, const std::string& name, const at::Tensor& x) {
  if (s.attention_bias) return at::linear(x, p.view(name + ".weight"), p.view(name + ".bias"));
  return at::linear(x, p.view(name + ".weight"));
}

at::Tensor rotary_attention(const ModelShape& s, const at::Tensor& q, const at::Tensor& key, const at::Tensor& value) {
  at::Tensor k = key, v = value;
  const int64_t B = q.size(0), T = q.size(2), d = s.head_dim();
  // HF's sdpa_attention_forward: SDPA's own grouped-query attention without a mask up to head_dim 256, the key and
  // value heads repeated above it.
  const int64_t groups = s.heads / s.key_value_heads();
  const bool enable_gqa = groups > 1 && d <= 256;
  if (groups > 1 && !enable_gqa) {
    auto repeat = [&](const at::Tensor& t) {
      return t.unsqueeze(2).expand({B, s.key_value_heads(), groups, T, d}).reshape({B, s.heads, T, d});
    };
    k = repeat(k);
    v = repeat(v);
  }
  // HF passes is_causal only when T > 1 (one query sees its one key either way) and scale = head_dim ** -0.5.
  at::Tensor o = at::scaled_dot_product_attention(q, k, v, /*attn_mask=*/{}, /*dropout_p=*/0.0, /*is_causal=*/T > 1,
                                                  /*scale=*/std::pow(double(d), -0.5), enable_gqa);
  return o.transpose(1, 2).contiguous().reshape({B, T, -1});
}

at::Tensor rotary_embed(const ModelShape&, const ParamSlab& r, const at::Tensor& input_ids) {
  return at::embedding(r.view("embed_tokens.weight"), input_ids);
}

at::Tensor rotary_block(const ModelShape& s, const ParamSlab& p, const at::Tensor& hidden,
                        const RotaryBlockOptions& options) {
  if (options.fused_kernels && hidden.is_cuda()) return rotary_block_fused(s, p, hidden, options);
  const double eps = s.rms_norm_eps;
  const at::Tensor h = hidden + self_attention(s, p, rms_norm(p.view("input_layernorm.weight"), hidden, eps), options);
  return h + mlp(p, rms_norm(p.view("post_attention_layernorm.weight"), h, eps));
}

at::Tensor rotary_logits(const ModelShape& s, const ParamSlab& r, const at::Tensor& hidden) {
  const at::Tensor h = rms_norm(r.view("norm.weight"), hidden, s.rms_norm_eps);
  return at::linear(h, r.view(s.tie_word_embeddings ? "embed_tokens.weight" : "lm_head.weight"));
}

namespace {
at::Tensor llama_block(const ModelShape& s, const ParamSlab& p, const at::Tensor& hidden, const ForwardOptions& o) {
  return rotary_block(s, p, hidden, {/*qk_norm=*/false, o.fused_kernels});
}
}  // namespace

const FamilyForward& llama_family_forward() {
  static const FamilyForward kForward{rotary_embed, llama_block, rotary_logits};
  return kForward;
}

}  // namespace zo2
