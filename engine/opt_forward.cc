// OPT forward in ATen ops, matching transformers' OPTForCausalLM (eval mode, no dropout, full attention mask); LLaMA
// shapes are handed to engine/llama_forward.cc.
#include "engine/opt_forward.h"

#include <ATen/ATen.h>

#include "engine/cross_entropy.h"
#include "engine/cuda_glue.h"
#include "engine/llama_forward.h"

namespace zo2 {
namespace {

constexpr double kLayerNormEps = 1e-5;  // nn.LayerNorm's default, which OPT uses

at::Tensor linear(const ParamSlab& slab, const std::string& name, const at::Tensor& x, bool bias) {
  const at::Tensor& w = slab.view(name + ".weight");
  if (bias) return at::linear(x, w, slab.view(name + ".bias"));
  return at::linear(x, w);
}

at::Tensor layer_norm(const ParamSlab& slab, const std::string& name, const at::Tensor& x) {
  return at::layer_norm(x, {x.size(-1)}, slab.view(name + ".weight"), slab.view(name + ".bias"), kLayerNormEps);
}

at::Tensor self_attention(const ModelShape& s, const ParamSlab& p, const at::Tensor& x) {
  const int64_t B = x.size(0), T = x.size(1);
  const double scaling = 1.0 / std::sqrt(double(s.head_dim()));
  auto heads = [&](at::Tensor t) { return t.view({B, T, s.heads, s.head_dim()}).transpose(1, 2); };
  // q is scaled before the product, as HF does, so the rounding matches in half precision too.
  at::Tensor q = heads(linear(p, "self_attn.q_proj", x, s.enable_bias) * scaling);
  at::Tensor k = heads(linear(p, "self_attn.k_proj", x, s.enable_bias));
  at::Tensor v = heads(linear(p, "self_attn.v_proj", x, s.enable_bias));
  at::Tensor o = at::scaled_dot_product_attention(q, k, v, /*attn_mask=*/{}, /*dropout_p=*/0.0, /*is_causal=*/true,
                                                  /*scale=*/1.0);
  o = o.transpose(1, 2).reshape({B, T, s.hidden});
  return linear(p, "self_attn.out_proj", o, s.enable_bias);
}

at::Tensor feed_forward(const ModelShape& s, const ParamSlab& p, const at::Tensor& x) {
  at::Tensor h = linear(p, "fc1", x, s.enable_bias);
  h = s.activation == "relu" ? at::relu_(h) : at::gelu(h);
  return linear(p, "fc2", h, s.enable_bias);
}

}  // namespace

// A LLaMA shape takes engine/llama_forward.cc's path at each of the three entry points, so every caller (the step's
// ops, calibration, zo2 forward, the loss) runs either family unchanged.
at::Tensor opt_embed(const ModelShape& s, const ParamSlab& r, const at::Tensor& input_ids) {
  if (s.is_llama()) return llama_embed(s, r, input_ids);
  at::Tensor x = at::embedding(r.view("embed_tokens.weight"), input_ids);
  if (s.has_projection()) x = at::linear(x, r.view("project_in.weight"));
  // Full attention mask: positions 0..T-1, offset by 2 as OPT's learned positions are.
  const int64_t T = input_ids.size(1);
  at::Tensor positions = at::arange(ModelShape::kPositionOffset, T + ModelShape::kPositionOffset,
                                    input_ids.options().dtype(at::kLong));
  return x + at::embedding(r.view("embed_positions.weight"), positions).unsqueeze(0);
}

at::Tensor opt_block(const ModelShape& s, const ParamSlab& p, const at::Tensor& hidden) {
  if (s.is_llama()) return llama_block(s, p, hidden);
  at::Tensor h = hidden;
  if (s.do_layer_norm_before) {
    h = h + self_attention(s, p, layer_norm(p, "self_attn_layer_norm", h));
    h = h + feed_forward(s, p, layer_norm(p, "final_layer_norm", h));
  } else {
    h = layer_norm(p, "self_attn_layer_norm", h + self_attention(s, p, h));
    h = layer_norm(p, "final_layer_norm", h + feed_forward(s, p, h));
  }
  return h;
}

at::Tensor opt_logits(const ModelShape& s, const ParamSlab& r, const at::Tensor& hidden) {
  if (s.is_llama()) return llama_logits(s, r, hidden);
  at::Tensor h = hidden;
  if (s.has_final_layer_norm()) h = layer_norm(r, "final_layer_norm", h);
  if (s.has_projection()) h = at::linear(h, r.view("project_out.weight"));
  return at::linear(h, r.view("embed_tokens.weight"));
}

namespace {

// Per-row cross-entropy of [rows, vocab] logits against labels [rows], fp32. On the GPU one pass over the
// compute-format logits (engine/cross_entropy.cu): no fp32 copy, no log-softmax tensor.
at::Tensor cross_entropy_rows_cuda_aten(const at::Tensor& logits, const at::Tensor& labels) {
  const at::Tensor rows = logits.reshape({-1, logits.size(-1)}).contiguous();
  const at::Tensor label_rows = labels.contiguous();
  at::Tensor loss = at::empty({rows.size(0)}, rows.options().dtype(at::kFloat));
  cross_entropy_rows_cuda(rows.data_ptr(), from_scalar_type(rows.scalar_type()), rows.size(0), rows.size(1),
                          rows.stride(0), label_rows.data_ptr<int64_t>(), loss.data_ptr<float>(),
                          current_cuda_stream());
  return loss;
}

}  // namespace

at::Tensor opt_causal_lm_loss(const ModelShape& s, const ParamSlab& r, const at::Tensor& hidden,
                              const at::Tensor& input_ids, const at::Tensor& loss_mask) {
  const int64_t T = hidden.size(1);
  at::Tensor logits = opt_logits(s, r, hidden.narrow(1, 0, T - 1));
  at::Tensor labels = input_ids.narrow(1, 1, T - 1).reshape({-1});
  if (!loss_mask.defined()) {
    if (logits.is_cuda()) return cross_entropy_rows_cuda_aten(logits, labels).mean();
    return at::cross_entropy_loss(logits.to(at::kFloat).reshape({-1, logits.size(-1)}), labels);
  }
  const at::Tensor target = loss_mask.narrow(1, 1, T - 1).reshape({-1});
  if (logits.is_cuda()) {
    // The same kernel over every row; unmarked rows (valid ids, finite losses) are dropped from the mean.
    const at::Tensor rows = cross_entropy_rows_cuda_aten(logits, labels);
    return at::where(target, rows, at::zeros({}, rows.options())).sum() / target.sum().to(at::kFloat);
  }
  // HF's own computation: unmarked labels become -100, which cross_entropy ignores in its mean.
  const at::Tensor masked = at::where(target, labels, at::full({}, int64_t(-100), labels.options()));
  return at::cross_entropy_loss(logits.to(at::kFloat).reshape({-1, logits.size(-1)}), masked, {},
                                at::Reduction::Mean, /*ignore_index=*/-100);
}

at::Tensor opt_token_nll(const ModelShape& s, const ParamSlab& r, const at::Tensor& hidden, const at::Tensor& input_ids) {
  const int64_t B = hidden.size(0), T = hidden.size(1);
  at::Tensor logits = opt_logits(s, r, hidden.narrow(1, 0, T - 1));
  at::Tensor labels = input_ids.narrow(1, 1, T - 1).reshape({-1});
  at::Tensor rows = logits.is_cuda()
                        ? cross_entropy_rows_cuda_aten(logits, labels)
                        : at::cross_entropy_loss(logits.to(at::kFloat).reshape({-1, logits.size(-1)}), labels, {},
                                                 at::Reduction::None);
  return rows.view({B, T - 1});
}

}  // namespace zo2
