// Stand-in for the CUDA cross-entropy kernel when the engine is built without CUDA: says so instead of failing to link.
#include <stdexcept>

#include "engine/cross_entropy.h"

namespace zo2 {

void cross_entropy_rows_cuda(const void*, DType, int64_t, int64_t, int64_t, const int64_t*, float*, void*) {
  throw std::runtime_error("this zo2 was built without CUDA (configure with the CUDA toolkit and a CUDA LibTorch)");
}

}  // namespace zo2
