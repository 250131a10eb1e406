// CUDA glue for builds without CUDA: there is no GPU to use, and asking for one says so.
#include <stdexcept>

#include "engine/cuda_glue.h"

namespace zo2 {

void* current_cuda_stream() { throw std::runtime_error("this zo2 was built without CUDA"); }
void cuda_synchronize() {}
bool cuda_available() { return false; }
GpuInfo gpu_info() { return {}; }
int64_t cuda_allocator_peak_bytes() { return 0; }
void cuda_reset_allocator_peak() {}
int64_t cuda_device_used_bytes() { return 0; }

}  // namespace zo2
