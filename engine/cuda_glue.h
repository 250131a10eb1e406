// The CUDA glue the engine needs, behind plain types so callers include no CUDA header: the current stream,
// synchronisation, the card's name and driver, and memory readings (allocator peak, device memory in use).
#pragma once
#include <cstdint>
#include <string>

namespace zo2 {

void* current_cuda_stream();  // cudaStream_t of ATen's current stream on the current device
void cuda_synchronize();      // waits for the current device
bool cuda_available();        // a CUDA build with at least one visible GPU

struct GpuInfo {
  std::string card = "cpu";     // "NVIDIA H100 80GB HBM3"
  std::string driver = "none";  // "580.159.04" (from /proc/driver/nvidia/version)
  int64_t total_bytes = 0;
};
GpuInfo gpu_info();

int64_t cuda_allocator_peak_bytes();  // PyTorch caching allocator: peak bytes allocated since the last reset
void cuda_reset_allocator_peak();
// Device memory in use by every process (cudaMemGetInfo total - free): what NVML reports as used, CUDA context
// included. The caching allocator keeps what it reserved, so read at the end of a run this is the run's peak.
int64_t cuda_device_used_bytes();

}  // namespace zo2
