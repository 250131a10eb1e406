// CUDA glue through ATen's CUDA context and the runtime API (built only with CUDA).
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAFunctions.h>
#include <cuda_runtime.h>

#include <fstream>
#include <regex>
#include <sstream>

#include "engine/cuda_check.h"
#include "engine/cuda_glue.h"

namespace zo2 {

void* current_cuda_stream() { return at::cuda::getCurrentCUDAStream().stream(); }
void cuda_synchronize() {
  if (cuda_available()) c10::cuda::device_synchronize();
}
bool cuda_available() { return c10::cuda::device_count() > 0; }

GpuInfo gpu_info() {
  GpuInfo info;
  if (!cuda_available()) return info;
  cudaDeviceProp prop{};
  CUDA_CHECK(cudaGetDeviceProperties(&prop, c10::cuda::current_device()));
  info.card = prop.name;
  info.total_bytes = int64_t(prop.totalGlobalMem);
  std::ifstream version("/proc/driver/nvidia/version");
  std::stringstream text;
  text << version.rdbuf();
  std::smatch m;
  const std::string s = text.str();
  if (std::regex_search(s, m, std::regex(R"((\d+\.\d+(\.\d+)?))"))) {
    info.driver = m[1];
  } else {
    int v = 0;
    CUDA_CHECK(cudaDriverGetVersion(&v));
    info.driver = "cuda-" + std::to_string(v);
  }
  return info;
}

int64_t cuda_allocator_peak_bytes() {
  const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(c10::cuda::current_device());
  return stats.allocated_bytes[size_t(c10::CachingAllocator::StatType::AGGREGATE)].peak;
}

void cuda_reset_allocator_peak() { c10::cuda::CUDACachingAllocator::resetPeakStats(c10::cuda::current_device()); }

int64_t cuda_device_used_bytes() {
  size_t free = 0, total = 0;
  CUDA_CHECK(cudaMemGetInfo(&free, &total));
  return int64_t(total - free);
}

}  // namespace zo2
