// fp32 views of the storage formats the CUDA kernels read (fp32, fp16, bf16): one overload set for every kernel.
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>

namespace zo2 {

__device__ __forceinline__ float to_f(float x) { return x; }
__device__ __forceinline__ float to_f(__half x) { return __half2float(x); }
__device__ __forceinline__ float to_f(__nv_bfloat16 x) { return __bfloat162float(x); }

}  // namespace zo2
