// Stand-ins for the rotary decoders' CUDA kernels when the engine is built without CUDA: say so instead of failing to
// link (the fused path only runs on CUDA tensors, so a CPU build never reaches them).
#include <stdexcept>

#include "engine/rotary_kernels.h"

namespace zo2 {
namespace {
[[noreturn]] void no_cuda() {
  throw std::runtime_error("this zo2 was built without CUDA (configure with the CUDA toolkit and a CUDA LibTorch)");
}
}  // namespace

void rms_norm_cuda(const void*, int64_t, const void*, void*, DType, int64_t, int64_t, float, void*) { no_cuda(); }
void qk_rotary_cuda(const QkRotaryArgs&, DType, void*) { no_cuda(); }
void swiglu_cuda(const void*, const void*, int64_t, void*, DType, int64_t, int64_t, void*) { no_cuda(); }

}  // namespace zo2
