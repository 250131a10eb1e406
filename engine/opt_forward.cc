// OPT forward in ATen ops, matching transformers' OPTForCausalLM (eval mode, no dropout, full attention mask).
#include "engine/opt_forward.h"

#include <ATen/ATen.h>

#include "engine/model_forward.h"

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

at::Tensor opt_embed(const ModelShape& s, const ParamSlab& r, const at::Tensor& input_ids) {
  at::Tensor x = at::embedding(r.view("embed_tokens.weight"), input_ids);
  if (s.has_projection()) x = at::linear(x, r.view("project_in.weight"));
  // Full attention mask: positions 0..T-1, offset by 2 as OPT's learned positions are.
  const int64_t T = input_ids.size(1);
  at::Tensor positions = at::arange(ModelShape::kPositionOffset, T + ModelShape::kPositionOffset,
                                    input_ids.options().dtype(at::kLong));
  return x + at::embedding(r.view("embed_positions.weight"), positions).unsqueeze(0);
}

at::Tensor opt_block(const ModelShape& s, const ParamSlab& p, const at::Tensor& hidden) {
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
  at::Tensor h = hidden;
  if (s.has_final_layer_norm()) h = layer_norm(r, "final_layer_norm", h);
  if (s.has_projection()) h = at::linear(h, r.view("project_out.weight"));
  return at::linear(h, r.view("embed_tokens.weight"));
}

const FamilyForward& opt_family_forward() {
  // OPT has no fused path: ForwardOptions changes nothing here.
  static const FamilyForward kForward{
      opt_embed, [](const ModelShape& s, const ParamSlab& p, const at::Tensor& h, const ForwardOptions&) {
        return opt_block(s, p, h);
      },
      opt_logits};
  return kForward;
}

}  // namespace zo2
