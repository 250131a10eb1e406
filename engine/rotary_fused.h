// The rotary decoders' block on CUDA with fused kernels (--fused-kernels on): one GEMM for q|k|v and one for gate|up
// where the slab holds those weights back to back, RMSNorm, rotary (with Qwen3's q/k norms) and SwiGLU as single
// kernels (engine/rotary_kernels.h). The same arithmetic as engine/llama_forward.cc's HF block, rounded where HF
// rounds; only summation orders differ (the RMSNorm's sums, the wider GEMMs' reductions).
#pragma once
#include <ATen/core/Tensor.h>

#include <initializer_list>
#include <string>

#include "core/model_shape.h"
#include "engine/llama_forward.h"
#include "engine/param_slab.h"

namespace zo2 {

// hidden: [B, T, hidden] on a CUDA device, in the slab's dtype. Throws std::invalid_argument for CPU tensors.
at::Tensor rotary_block_fused(const ModelShape& shape, const ParamSlab& block, const at::Tensor& hidden,
                              const RotaryBlockOptions& options);

// The 2-D weights `names` of `block` as one [sum of their rows, columns] matrix when the slab holds them back to back
// (each starting where the previous one ends) with one column count: a view, no copy. Undefined otherwise (padding
// between them, a bias in between, another shape).
at::Tensor adjacent_weights(const ParamSlab& block, std::initializer_list<std::string> names);

// RMSNorm over the last dimension of a CUDA tensor with the fused kernel (HF's rounding; fp32 statistics).
at::Tensor fused_rms_norm(const at::Tensor& weight, const at::Tensor& x, double eps);

}  // namespace zo2
