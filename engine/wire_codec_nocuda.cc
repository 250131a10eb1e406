// Stand-in for the wire codec's CUDA kernels when the engine is built without CUDA: says so instead of failing to link.
#include <stdexcept>

#include "core/wire_codec.h"
#include "engine/wire_codec_cuda.h"

namespace zo2 {

namespace {
[[noreturn]] void no_cuda() {
  throw std::runtime_error("this zo2 was built without CUDA (configure with the CUDA toolkit and a CUDA LibTorch)");
}
}  // namespace

void wire_codec_decode_cuda(const void*, DType, int64_t, uint16_t*, void*) { no_cuda(); }
int64_t wire_codec_cuda_scratch_bytes(int64_t n) { return 8 * wire_codec_tiles(n) + 16; }
void wire_codec_encode_cuda(const void*, DType, const uint16_t*, int64_t, void*, void*, void*) { no_cuda(); }

}  // namespace zo2
