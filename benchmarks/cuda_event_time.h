// Milliseconds per repetition of GPU work, timed with CUDA events: the one timer of the engine benchmarks.
#pragma once
#include <cuda_runtime.h>

#include "engine/cuda_check.h"

namespace zo2::bench {

// `reps` calls of `fn`, which enqueues its work on `stream` (and may fork to other streams and join them back),
// between two events recorded on `stream`.
template <class Fn>
double event_ms(cudaStream_t stream, Fn&& fn, int reps) {
  cudaEvent_t start, stop;
  CUDA_CHECK(cudaEventCreate(&start));
  CUDA_CHECK(cudaEventCreate(&stop));
  CUDA_CHECK(cudaEventRecord(start, stream));
  for (int i = 0; i < reps; ++i) fn();
  CUDA_CHECK(cudaEventRecord(stop, stream));
  CUDA_CHECK(cudaEventSynchronize(stop));
  float ms = 0;
  CUDA_CHECK(cudaEventElapsedTime(&ms, start, stop));
  CUDA_CHECK(cudaEventDestroy(start));
  CUDA_CHECK(cudaEventDestroy(stop));
  return double(ms) / reps;
}

}  // namespace zo2::bench
