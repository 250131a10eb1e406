// CUDA_CHECK: throw with the failing call, file and line (llm.c's cudaCheck, as an exception the CLI reports).
#pragma once
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

#define CUDA_CHECK(call)                                                                                    \
  do {                                                                                                      \
    cudaError_t zo2_err_ = (call);                                                                          \
    if (zo2_err_ != cudaSuccess)                                                                            \
      throw std::runtime_error(std::string("CUDA error: ") + cudaGetErrorString(zo2_err_) + " in " #call " at " \
                               __FILE__ ":" + std::to_string(__LINE__));                                    \
  } while (0)
