// Stand-in for the CUDA ZO kernel when the engine is built without CUDA: says so instead of failing to link.
#include <stdexcept>

#include "engine/zo_kernels.h"

namespace zo2 {

void zo_pass_cuda(void*, DType, const std::vector<ZoSegment>&, const ZoPassCoeffs&, void*, int, int) {
  throw std::runtime_error("this zo2 was built without CUDA (configure with the CUDA toolkit and a CUDA LibTorch)");
}

}  // namespace zo2
