// The causal-LM loss's cross-entropy on the GPU as one kernel: read each row of logits once in the compute format,
// fp32 arithmetic inside, no fp32 copy of the logits and no log-softmax tensor. Plain types only (no LibTorch, no
// CUDA headers), so the ATen code that calls it stays cheap to compile.
#pragma once
#include <cstdint>

#include "core/dtype.h"

namespace zo2 {

// loss[r] = logsumexp(logits[r, :]) - logits[r, labels[r]] for r < rows, in fp32, as HuggingFace computes it after
// upcasting the logits to fp32. logits: rows x vocab, row-major with `row_stride` elements between rows, dtype f32,
// f16 or bf16. A label outside [0, vocab) gives NaN for its row (callers check ids first). Enqueued on `stream`
// (a cudaStream_t). Throws if CUDA support was not built.
void cross_entropy_rows_cuda(const void* logits, DType dtype, int64_t rows, int64_t vocab, int64_t row_stride,
                             const int64_t* labels, float* loss, void* stream);

}  // namespace zo2
