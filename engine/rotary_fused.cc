// The fused rotary block (engine/rotary_fused.h): ATen for the GEMMs and attention, engine/rotary_kernels.cu for the
// elementwise work, on ATen's current stream.
#include "engine/rotary_fused.h"

#include <ATen/ATen.h>
#include <fmt/format.h>

#include <stdexcept>

#include "engine/cuda_glue.h"
#include "engine/rotary_kernels.h"

namespace zo2 {
namespace {

DType dtype_of(const at::Tensor& t) { return from_scalar_type(t.scalar_type()); }

void check_same_dtype(const at::Tensor& a, const at::Tensor& b, const char* what) {
  if (a.scalar_type() != b.scalar_type())
    throw std::invalid_argument(fmt::format("{}: the weight is {} and the input {}; the fused kernels take one dtype",
                                            what, c10::toString(b.scalar_type()), c10::toString(a.scalar_type())));
}

// q and k: the projections (one GEMM when q, k and v sit back to back), Qwen3's norms and the rotation in one launch;
// v a view of the same GEMM's output. Returns [B, T, heads * d] for o_proj.
at::Tensor fused_attention(const ModelShape& s, const ParamSlab& p, const at::Tensor& x,
                           const RotaryBlockOptions& opt) {
  const int64_t B = x.size(0), T = x.size(1), d = s.head_dim();
  const int64_t hq = s.heads, hk = s.key_value_heads(), qw = hq * d, kw = hk * d;
  // With attention biases the bias vectors sit between the weights: three GEMMs.
  const at::Tensor qkv_weight =
      s.attention_bias
          ? at::Tensor()
          : adjacent_weights(p, {"self_attn.q_proj.weight", "self_attn.k_proj.weight", "self_attn.v_proj.weight"});
  at::Tensor q_src, k_src, v;
  int64_t q_stride = qw, k_stride = kw;
  if (qkv_weight.defined()) {
    const at::Tensor qkv = at::linear(x, qkv_weight);  // [B, T, qw + 2 kw], contiguous
    q_src = qkv;
    k_src = qkv.narrow(-1, qw, kw);
    v = qkv.narrow(-1, qw + kw, kw);
    q_stride = k_stride = qw + 2 * kw;
  } else {
    q_src = rotary_projection(s, p, "self_attn.q_proj", x).contiguous();
    k_src = rotary_projection(s, p, "self_attn.k_proj", x).contiguous();
    v = rotary_projection(s, p, "self_attn.v_proj", x);
  }
  const auto [cos, sin] = rotary_cos_sin(s, T, x);  // [1, T, d], contiguous
  at::Tensor q = at::empty({B, T, hq, d}, x.options());
  at::Tensor k = at::empty({B, T, hk, d}, x.options());
  QkRotaryArgs a;
  a.q = q_src.data_ptr();
  a.k = k_src.data_ptr();
  a.q_token_stride = q_stride;
  a.k_token_stride = k_stride;
  if (opt.qk_norm) {
    const at::Tensor& qn = p.view("self_attn.q_norm.weight");
    const at::Tensor& kn = p.view("self_attn.k_norm.weight");
    check_same_dtype(x, qn, "fused q_norm");
    a.q_norm = qn.data_ptr();
    a.k_norm = kn.data_ptr();
    a.eps = float(s.rms_norm_eps);
  }
  a.cos = cos.data_ptr();
  a.sin = sin.data_ptr();
  a.q_out = q.data_ptr();
  a.k_out = k.data_ptr();
  a.tokens = B * T;
  a.seq = T;
  a.q_heads = hq;
  a.k_heads = hk;
  a.head_dim = d;
  qk_rotary_cuda(a, dtype_of(x), current_cuda_stream());
  const at::Tensor o = rotary_attention(s, q.transpose(1, 2), k.transpose(1, 2), v.view({B, T, hk, d}).transpose(1, 2));
  return rotary_projection(s, p, "self_attn.o_proj", o);
}

// down(silu(gate(x)) * up(x)): one GEMM for gate|up when they sit back to back, SwiGLU in one kernel.
at::Tensor fused_mlp(const ModelShape& s, const ParamSlab& p, const at::Tensor& x) {
  const int64_t B = x.size(0), T = x.size(1), f = s.ffn;
  const at::Tensor gate_up_weight = adjacent_weights(p, {"mlp.gate_proj.weight", "mlp.up_proj.weight"});
  at::Tensor gate, up;
  int64_t stride = f;
  if (gate_up_weight.defined()) {
    gate = at::linear(x, gate_up_weight);  // [B, T, 2 f]: gate then up
    up = gate.narrow(-1, f, f);
    stride = 2 * f;
  } else {
    gate = at::linear(x, p.view("mlp.gate_proj.weight")).contiguous();
    up = at::linear(x, p.view("mlp.up_proj.weight")).contiguous();
  }
  at::Tensor act = at::empty({B, T, f}, x.options());
  swiglu_cuda(gate.data_ptr(), up.data_ptr(), stride, act.data_ptr(), dtype_of(x), B * T, f, current_cuda_stream());
  return at::linear(act, p.view("mlp.down_proj.weight"));
}

}  // namespace

at::Tensor adjacent_weights(const ParamSlab& p, std::initializer_list<std::string> names) {
  const SlabEntry* prev = nullptr;
  int64_t first = 0, rows = 0, cols = 0;
  for (const std::string& name : names) {
    const SlabEntry* e = nullptr;
    for (const SlabEntry& candidate : p.layout.entries)
      if (candidate.name == name) e = &candidate;
    if (e == nullptr || e->shape.size() != 2) return {};
    if (prev == nullptr) {
      first = e->offset;
      cols = e->shape[1];
    } else if (e->offset != prev->offset + prev->numel || e->shape[1] != cols) {
      return {};
    }
    rows += e->shape[0];
    prev = e;
  }
  if (prev == nullptr) return {};
  return p.flat.narrow(0, first, rows * cols).view({rows, cols});
}

at::Tensor fused_rms_norm(const at::Tensor& weight, const at::Tensor& x, double eps) {
  if (!x.is_cuda()) throw std::invalid_argument("fused_rms_norm: expected a CUDA tensor");
  check_same_dtype(x, weight, "fused RMSNorm");
  const int64_t cols = x.size(-1);
  if (weight.numel() != cols)
    throw std::invalid_argument(
        fmt::format("fused RMSNorm: weight of {} elements for rows of {}", weight.numel(), cols));
  const at::Tensor xc = x.contiguous();
  const at::Tensor w = weight.contiguous();
  at::Tensor y = at::empty_like(xc);
  rms_norm_cuda(xc.data_ptr(), cols, w.data_ptr(), y.data_ptr(), dtype_of(xc), cols == 0 ? 0 : xc.numel() / cols,
                cols, float(eps), current_cuda_stream());
  return y;
}

at::Tensor rotary_block_fused(const ModelShape& s, const ParamSlab& p, const at::Tensor& hidden,
                              const RotaryBlockOptions& options) {
  if (!hidden.is_cuda()) throw std::invalid_argument("rotary_block_fused: expected CUDA tensors (--fused-kernels)");
  const double eps = s.rms_norm_eps;
  const at::Tensor x = hidden.contiguous();
  const at::Tensor h = x + fused_attention(s, p, fused_rms_norm(p.view("input_layernorm.weight"), x, eps), options);
  return h + fused_mlp(s, p, fused_rms_norm(p.view("post_attention_layernorm.weight"), h, eps));
}

}  // namespace zo2
