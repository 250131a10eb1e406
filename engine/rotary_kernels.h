// The rotary decoders' elementwise work on the GPU in one launch each (RMSNorm, rotary on q and k, SwiGLU), behind
// plain types (no LibTorch, no CUDA headers). Every kernel computes in fp32 and rounds to the storage format where
// transformers' ATen ops round, so only the order of the RMSNorm's sum of squares differs from the HF path.
#pragma once
#include <cstdint>

#include "core/dtype.h"

namespace zo2 {

// LlamaRMSNorm on each of `rows` rows of `cols` elements: y = weight * round(x * rsqrt(mean(x^2) + eps)), the mean
// in fp32 and the product rounded to `dtype` (fp32, fp16 or bf16), which x, weight and y share. Row r of x starts at
// x + r * x_row_stride; y is contiguous [rows, cols]. Enqueued on `stream` (a cudaStream_t).
void rms_norm_cuda(const void* x, int64_t x_row_stride, const void* weight, void* y, DType dtype, int64_t rows,
                   int64_t cols, float eps, void* stream);

// q and k of one attention in one launch, for tokens t = b * seq + s of a [batch, seq] input: each head of `head_dim`
// elements (even), read at q + t * q_token_stride + h * head_dim (k alike), optionally RMS-normalised over head_dim
// with q_norm / k_norm (Qwen3; null: none), then rotated as HF's `x * cos + rotate_half(x) * sin` with the rows
// cos[s], sin[s] ([seq, head_dim], contiguous). Written to q_out [tokens, q_heads, head_dim] and k_out [tokens,
// k_heads, head_dim], contiguous.
struct QkRotaryArgs {
  const void* q = nullptr;
  const void* k = nullptr;
  int64_t q_token_stride = 0, k_token_stride = 0;
  const void* q_norm = nullptr;
  const void* k_norm = nullptr;
  float eps = 0.0f;
  const void* cos = nullptr;
  const void* sin = nullptr;
  void* q_out = nullptr;
  void* k_out = nullptr;
  int64_t tokens = 0, seq = 0, q_heads = 0, k_heads = 0, head_dim = 0;
};
void qk_rotary_cuda(const QkRotaryArgs& args, DType dtype, void* stream);

// y = round(round(silu(gate)) * up), HF's `act_fn(gate_proj(x)) * up_proj(x)`: `rows` rows of `cols`, row r of gate
// at gate + r * row_stride (up alike); y contiguous [rows, cols].
void swiglu_cuda(const void* gate, const void* up, int64_t row_stride, void* y, DType dtype, int64_t rows,
                 int64_t cols, void* stream);

}  // namespace zo2
