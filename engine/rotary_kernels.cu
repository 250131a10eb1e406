// The rotary decoders' elementwise kernels (engine/rotary_kernels.h): RMSNorm with a row held in registers between
// its statistics and its output, q and k rotated (and Qwen3-normalised) in one launch, SwiGLU in one pass. Products
// and sums use the _rn intrinsics so the compiler cannot contract them into FMAs that HF's separate ops do not do.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "engine/cuda_check.h"
#include "engine/cuda_float.cuh"
#include "engine/rotary_kernels.h"

namespace zo2 {
namespace {

// x rounded to the storage format and back: what an ATen op on T tensors returns, seen in fp32.
template <typename T>
__device__ __forceinline__ float rnd(float x) { return to_f(from_f<T>(x)); }

// 16 bytes of T: the vector the kernels load when a row's length and alignment allow.
template <typename T>
struct alignas(16) Vec {
  static constexpr int n = 16 / int(sizeof(T));
  T v[n];
};

bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

// Sum over the thread block (blockDim.x a multiple of 32, at most 1024); every thread gets the total.
__device__ __forceinline__ float block_sum(float v) {
  __shared__ float partial[32];
  __shared__ float total;
  v = warp_sum(v);
  const int warp = int(threadIdx.x) / 32, lane = int(threadIdx.x) % 32;
  if (lane == 0) partial[warp] = v;
  __syncthreads();
  if (warp == 0) {
    float w = lane < int(blockDim.x) / 32 ? partial[lane] : 0.0f;
    w = warp_sum(w);
    if (lane == 0) total = w;
  }
  __syncthreads();
  return total;
}

// HF's RMSNorm of one value given the row's 1 / rms: round(x * r) in T, then the weight's product rounded in T.
template <typename T>
__device__ __forceinline__ T norm_value(float x, float r, T w) {
  return from_f<T>(__fmul_rn(to_f(w), rnd<T>(__fmul_rn(x, r))));
}

// HF's rsqrt(mean(x^2) + eps) from the row's fp32 sum of squares.
__device__ __forceinline__ float inverse_rms(float sum_squares, int64_t cols, float eps) {
  return rsqrtf(__fadd_rn(__fdiv_rn(sum_squares, float(cols)), eps));
}

constexpr int kNormThreads = 256;
constexpr int kNormCache = 4;  // vectors a thread keeps in registers: rows up to 256 x 4 x 16 bytes read once

// One thread block per row. kVec: 16-byte loads (the row's length a multiple of the vector, everything aligned).
template <typename T, bool kVec>
__global__ void __launch_bounds__(kNormThreads)
    rms_norm_kernel(const T* __restrict__ x, int64_t x_row_stride, const T* __restrict__ w, T* __restrict__ y,
                    int64_t cols, float eps) {
  const T* xr = x + int64_t(blockIdx.x) * x_row_stride;
  T* yr = y + int64_t(blockIdx.x) * cols;
  const int64_t step = blockDim.x;
  float ss = 0.0f;
  if constexpr (kVec) {
    using V = Vec<T>;
    const int64_t nvec = cols / V::n;
    const V* xv = reinterpret_cast<const V*>(xr);
    V cache[kNormCache];
#pragma unroll
    for (int u = 0; u < kNormCache; ++u) {
      const int64_t i = threadIdx.x + u * step;
      if (i < nvec) {
        cache[u] = xv[i];
#pragma unroll
        for (int j = 0; j < V::n; ++j) ss = __fadd_rn(ss, __fmul_rn(to_f(cache[u].v[j]), to_f(cache[u].v[j])));
      }
    }
    for (int64_t i = threadIdx.x + kNormCache * step; i < nvec; i += step) {  // rows longer than the cache
      const V a = xv[i];
#pragma unroll
      for (int j = 0; j < V::n; ++j) ss = __fadd_rn(ss, __fmul_rn(to_f(a.v[j]), to_f(a.v[j])));
    }
    const float r = inverse_rms(block_sum(ss), cols, eps);
    const V* wv = reinterpret_cast<const V*>(w);
    V* yv = reinterpret_cast<V*>(yr);
#pragma unroll
    for (int u = 0; u < kNormCache; ++u) {
      const int64_t i = threadIdx.x + u * step;
      if (i < nvec) {
        const V wi = wv[i];
        V o;
#pragma unroll
        for (int j = 0; j < V::n; ++j) o.v[j] = norm_value<T>(to_f(cache[u].v[j]), r, wi.v[j]);
        yv[i] = o;
      }
    }
    for (int64_t i = threadIdx.x + kNormCache * step; i < nvec; i += step) {
      const V a = xv[i], wi = wv[i];
      V o;
#pragma unroll
      for (int j = 0; j < V::n; ++j) o.v[j] = norm_value<T>(to_f(a.v[j]), r, wi.v[j]);
      yv[i] = o;
    }
  } else {
    for (int64_t i = threadIdx.x; i < cols; i += step) ss = __fadd_rn(ss, __fmul_rn(to_f(xr[i]), to_f(xr[i])));
    const float r = inverse_rms(block_sum(ss), cols, eps);
    for (int64_t i = threadIdx.x; i < cols; i += step) yr[i] = norm_value<T>(to_f(xr[i]), r, w[i]);
  }
}

template <typename T>
void launch_rms_norm(const T* x, int64_t stride, const T* w, T* y, int64_t rows, int64_t cols, float eps,
                     cudaStream_t stream) {
  constexpr int n = Vec<T>::n;
  const bool vec = cols % n == 0 && stride % n == 0 && aligned16(x) && aligned16(w) && aligned16(y);
  const int64_t work = vec ? cols / n : cols;
  // Short rows (Qwen3's head norms go through qk_rotary_cuda; this is for hidden rows) need fewer threads.
  const int threads = int(std::min<int64_t>(kNormThreads, std::max<int64_t>(32, (work + 31) / 32 * 32)));
  if (rows > int64_t(INT32_MAX)) throw std::invalid_argument("rms_norm_cuda: more than 2^31 rows");
  if (vec) rms_norm_kernel<T, true><<<unsigned(rows), threads, 0, stream>>>(x, stride, w, y, cols, eps);
  else rms_norm_kernel<T, false><<<unsigned(rows), threads, 0, stream>>>(x, stride, w, y, cols, eps);
  CUDA_CHECK(cudaGetLastError());
}

constexpr int kRotaryThreads = 128;     // four warps, one (token, head) each
constexpr int kRotaryMaxPairs = 8;      // rotary pairs a lane holds: head_dim up to 2 x 32 x 8
constexpr int64_t kRotaryMaxHeadDim = 2 * 32 * kRotaryMaxPairs;

template <typename T>
struct RotaryParams {
  const T* q;
  const T* k;
  int64_t q_stride, k_stride;
  const T* q_norm;
  const T* k_norm;
  float eps;
  const T* cos;
  const T* sin;
  T* q_out;
  T* k_out;
  int64_t tokens, seq, q_heads, k_heads, head_dim;
};

// One warp per (token, head): lane l holds the rotary pairs (i, i + half) for i = l, l + 32, ...
template <typename T>
__global__ void __launch_bounds__(kRotaryThreads) qk_rotary_kernel(const __grid_constant__ RotaryParams<T> p) {
  const int64_t heads = p.q_heads + p.k_heads;
  const int64_t item = int64_t(blockIdx.x) * (kRotaryThreads / 32) + threadIdx.x / 32;
  if (item >= p.tokens * heads) return;
  const int lane = int(threadIdx.x) % 32;
  const int64_t token = item / heads, head = item % heads;
  const bool is_q = head < p.q_heads;
  const int64_t h = is_q ? head : head - p.q_heads;
  const T* src = is_q ? p.q + token * p.q_stride + h * p.head_dim : p.k + token * p.k_stride + h * p.head_dim;
  T* dst = is_q ? p.q_out + (token * p.q_heads + h) * p.head_dim : p.k_out + (token * p.k_heads + h) * p.head_dim;
  const T* norm = is_q ? p.q_norm : p.k_norm;
  const int64_t half = p.head_dim / 2;
  float a[kRotaryMaxPairs], b[kRotaryMaxPairs];
  float ss = 0.0f;
#pragma unroll
  for (int u = 0; u < kRotaryMaxPairs; ++u) {
    const int64_t i = lane + 32 * u;
    a[u] = b[u] = 0.0f;
    if (i < half) {
      a[u] = to_f(src[i]);
      b[u] = to_f(src[i + half]);
      ss = __fadd_rn(ss, __fadd_rn(__fmul_rn(a[u], a[u]), __fmul_rn(b[u], b[u])));
    }
  }
  if (norm != nullptr) {
    const float r = inverse_rms(warp_sum(ss), p.head_dim, p.eps);
#pragma unroll
    for (int u = 0; u < kRotaryMaxPairs; ++u) {
      const int64_t i = lane + 32 * u;
      if (i < half) {
        a[u] = to_f(norm_value<T>(a[u], r, norm[i]));
        b[u] = to_f(norm_value<T>(b[u], r, norm[i + half]));
      }
    }
  }
  // HF: x * cos + cat(-x2, x1) * sin, each product and the sum rounded to T.
  const int64_t s = token % p.seq;
  const T* c = p.cos + s * p.head_dim;
  const T* sn = p.sin + s * p.head_dim;
#pragma unroll
  for (int u = 0; u < kRotaryMaxPairs; ++u) {
    const int64_t i = lane + 32 * u;
    if (i < half) {
      const float lo = __fadd_rn(rnd<T>(__fmul_rn(a[u], to_f(c[i]))), rnd<T>(__fmul_rn(-b[u], to_f(sn[i]))));
      const float hi =
          __fadd_rn(rnd<T>(__fmul_rn(b[u], to_f(c[i + half]))), rnd<T>(__fmul_rn(a[u], to_f(sn[i + half]))));
      dst[i] = from_f<T>(lo);
      dst[i + half] = from_f<T>(hi);
    }
  }
}

constexpr int kSwigluThreads = 256;

// SiLU as ATen's CUDA kernel writes it, x / (1 + exp(-x)) in fp32.
__device__ __forceinline__ float silu(float x) { return __fdiv_rn(x, __fadd_rn(1.0f, expf(-x))); }

template <typename T>
__device__ __forceinline__ T swiglu_value(T g, T u) {
  return from_f<T>(__fmul_rn(rnd<T>(silu(to_f(g))), to_f(u)));
}

// Rows over blockIdx.y (grid-strided), a row's elements (or 16-byte vectors, kVec) over x.
template <typename T, bool kVec>
__global__ void __launch_bounds__(kSwigluThreads)
    swiglu_kernel(const T* __restrict__ gate, const T* __restrict__ up, int64_t row_stride, T* __restrict__ y,
                  int64_t rows, int64_t cols) {
  for (int64_t row = blockIdx.y; row < rows; row += gridDim.y) {
    const T* g = gate + row * row_stride;
    const T* u = up + row * row_stride;
    T* o = y + row * cols;
    if constexpr (kVec) {
      using V = Vec<T>;
      const int64_t nvec = cols / V::n;
      for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < nvec; i += int64_t(gridDim.x) * blockDim.x) {
        const V gv = reinterpret_cast<const V*>(g)[i], uv = reinterpret_cast<const V*>(u)[i];
        V ov;
#pragma unroll
        for (int j = 0; j < V::n; ++j) ov.v[j] = swiglu_value<T>(gv.v[j], uv.v[j]);
        reinterpret_cast<V*>(o)[i] = ov;
      }
    } else {
      for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < cols; i += int64_t(gridDim.x) * blockDim.x)
        o[i] = swiglu_value<T>(g[i], u[i]);
    }
  }
}

template <typename T>
void launch_swiglu(const T* gate, const T* up, int64_t stride, T* y, int64_t rows, int64_t cols, cudaStream_t stream) {
  constexpr int n = Vec<T>::n;
  const bool vec = cols % n == 0 && stride % n == 0 && aligned16(gate) && aligned16(up) && aligned16(y);
  const int64_t work = vec ? cols / n : cols;
  const dim3 grid(unsigned(std::min<int64_t>((work + kSwigluThreads - 1) / kSwigluThreads, 1024)),
                  unsigned(std::min<int64_t>(rows, 65535)));
  if (vec) swiglu_kernel<T, true><<<grid, kSwigluThreads, 0, stream>>>(gate, up, stride, y, rows, cols);
  else swiglu_kernel<T, false><<<grid, kSwigluThreads, 0, stream>>>(gate, up, stride, y, rows, cols);
  CUDA_CHECK(cudaGetLastError());
}

void check_dtype(DType dtype, const char* what) {
  if (dtype != DType::f32 && dtype != DType::f16 && dtype != DType::bf16)
    throw std::invalid_argument(std::string(what) + ": dtype must be fp32, fp16 or bf16, got " +
                                std::string(dtype_name(dtype)));
}

template <typename T>
void launch_qk_rotary(const QkRotaryArgs& a, cudaStream_t stream) {
  RotaryParams<T> p{static_cast<const T*>(a.q),      static_cast<const T*>(a.k),      a.q_token_stride,
                    a.k_token_stride,                static_cast<const T*>(a.q_norm), static_cast<const T*>(a.k_norm),
                    a.eps,                           static_cast<const T*>(a.cos),    static_cast<const T*>(a.sin),
                    static_cast<T*>(a.q_out),        static_cast<T*>(a.k_out),        a.tokens,
                    a.seq,                           a.q_heads,                       a.k_heads,
                    a.head_dim};
  const int64_t items = a.tokens * (a.q_heads + a.k_heads);
  const int64_t blocks = (items + kRotaryThreads / 32 - 1) / (kRotaryThreads / 32);
  if (blocks > int64_t(INT32_MAX)) throw std::invalid_argument("qk_rotary_cuda: too many heads for one launch");
  qk_rotary_kernel<T><<<unsigned(blocks), kRotaryThreads, 0, stream>>>(p);
  CUDA_CHECK(cudaGetLastError());
}

}  // namespace

void rms_norm_cuda(const void* x, int64_t x_row_stride, const void* weight, void* y, DType dtype, int64_t rows,
                   int64_t cols, float eps, void* stream) {
  check_dtype(dtype, "rms_norm_cuda");
  if (rows == 0 || cols == 0) return;
  auto s = static_cast<cudaStream_t>(stream);
  switch (dtype) {
    case DType::f32:
      return launch_rms_norm(static_cast<const float*>(x), x_row_stride, static_cast<const float*>(weight),
                             static_cast<float*>(y), rows, cols, eps, s);
    case DType::f16:
      return launch_rms_norm(static_cast<const __half*>(x), x_row_stride, static_cast<const __half*>(weight),
                             static_cast<__half*>(y), rows, cols, eps, s);
    default:
      return launch_rms_norm(static_cast<const __nv_bfloat16*>(x), x_row_stride,
                             static_cast<const __nv_bfloat16*>(weight), static_cast<__nv_bfloat16*>(y), rows, cols,
                             eps, s);
  }
}

void qk_rotary_cuda(const QkRotaryArgs& a, DType dtype, void* stream) {
  check_dtype(dtype, "qk_rotary_cuda");
  if (a.head_dim <= 0 || a.head_dim % 2 != 0 || a.head_dim > kRotaryMaxHeadDim)
    throw std::invalid_argument("qk_rotary_cuda: head_dim must be even and at most " +
                                std::to_string(kRotaryMaxHeadDim) + ", got " + std::to_string(a.head_dim));
  if (a.seq <= 0 || a.tokens % a.seq != 0)
    throw std::invalid_argument("qk_rotary_cuda: tokens " + std::to_string(a.tokens) + " is not a multiple of seq " +
                                std::to_string(a.seq));
  if (a.tokens == 0 || a.q_heads + a.k_heads == 0) return;
  auto s = static_cast<cudaStream_t>(stream);
  switch (dtype) {
    case DType::f32: return launch_qk_rotary<float>(a, s);
    case DType::f16: return launch_qk_rotary<__half>(a, s);
    default: return launch_qk_rotary<__nv_bfloat16>(a, s);
  }
}

void swiglu_cuda(const void* gate, const void* up, int64_t row_stride, void* y, DType dtype, int64_t rows,
                 int64_t cols, void* stream) {
  check_dtype(dtype, "swiglu_cuda");
  if (rows == 0 || cols == 0) return;
  auto s = static_cast<cudaStream_t>(stream);
  switch (dtype) {
    case DType::f32:
      return launch_swiglu(static_cast<const float*>(gate), static_cast<const float*>(up), row_stride,
                           static_cast<float*>(y), rows, cols, s);
    case DType::f16:
      return launch_swiglu(static_cast<const __half*>(gate), static_cast<const __half*>(up), row_stride,
                           static_cast<__half*>(y), rows, cols, s);
    default:
      return launch_swiglu(static_cast<const __nv_bfloat16*>(gate), static_cast<const __nv_bfloat16*>(up), row_stride,
                           static_cast<__nv_bfloat16*>(y), rows, cols, s);
  }
}

}  // namespace zo2
