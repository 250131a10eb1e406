// The fused ZO pass as one CUDA kernel per slab: each thread owns groups of four consecutive global indices (one
// Philox call), reads and writes the slab once, and never materialises z.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <stdexcept>

#include "engine/cuda_check.h"
#include "engine/zo_kernels.h"

namespace zo2 {
namespace {

constexpr int kMaxSegments = 40;  // an OPT block has 16, the resident group up to 6: one launch per slab
constexpr int kThreads = 256;
// Groups of four elements per thread: their loads are issued together and their Philox calls are independent, so a
// thread keeps several memory requests and arithmetic chains in flight. Tuned on the GPU (bench_engine_zo_pass).
constexpr int kDefaultGroupsPerThread = 8;

// Each thread block works inside one segment, so the segment is found once per block (a scan over a few prefix
// sums), not once per element.
struct SegmentTable {
  ZoSegment seg[kMaxSegments];
  int32_t block_start[kMaxSegments + 1];  // first thread block of each segment; the last entry is the grid size
  int count;
};

template <typename T>
struct alignas(4 * sizeof(T)) Vec4 {
  T v[4];
};

__device__ __forceinline__ float to_f(float x) { return x; }
__device__ __forceinline__ float to_f(__half x) { return __half2float(x); }
__device__ __forceinline__ float to_f(__nv_bfloat16 x) { return __bfloat162float(x); }

template <typename T>
__device__ __forceinline__ T store_value(float updated, float z_new, bool stochastic, uint32_t bits,
                                         const ZoPassCoeffs& k);
template <>
__device__ __forceinline__ float store_value<float>(float updated, float z_new, bool, uint32_t, const ZoPassCoeffs& k) {
  return updated + k.perturb_scale * z_new;
}
template <>
__device__ __forceinline__ __half store_value<__half>(float updated, float z_new, bool stochastic, uint32_t bits,
                                                      const ZoPassCoeffs& k) {
  const float t = stochastic ? __half2float(__ushort_as_half(fp16_round_stochastic(updated, bits))) : updated;
  return __float2half_rn(t + k.perturb_scale * z_new);
}
template <>
__device__ __forceinline__ __nv_bfloat16 store_value<__nv_bfloat16>(float updated, float z_new, bool stochastic,
                                                                    uint32_t bits, const ZoPassCoeffs& k) {
  const float t = stochastic ? bf16_to_float(bf16_round_stochastic(updated, bits)) : updated;
  return __float2bfloat16_rn(t + k.perturb_scale * z_new);
}

template <typename T, bool kUpdate, bool kPerturb>
__device__ __forceinline__ T apply(T value, int lane, const rng::Normal4& z, const rng::Normal4& zp,
                                   const rng::Words4& bits, bool decay, const ZoPassCoeffs& k) {
  constexpr bool kHalf = !std::is_same_v<T, float>;
  const float theta = to_f(value);
  const float updated = kUpdate ? zo_updated_value(theta, zp.z[lane], decay, k) : theta;
  return store_value<T>(updated, kPerturb ? z.z[lane] : 0.0f, kUpdate && kHalf, bits.w[lane], k);
}

template <typename T, bool kUpdate, bool kPerturb, int kGroupsPerThread>
__global__ void __launch_bounds__(kThreads) zo_pass_kernel(T* __restrict__ slab, const __grid_constant__ SegmentTable table,
                                                           const ZoPassCoeffs k) {
  constexpr bool kHalf = !std::is_same_v<T, float>;
  constexpr int kGroupsPerBlock = kThreads * kGroupsPerThread;
  int s = 0;
  while (s + 1 < table.count && table.block_start[s + 1] <= int(blockIdx.x)) ++s;
  const ZoSegment seg = table.seg[s];
  const int64_t seg_first_group = seg.global_index >> 2;
  const int64_t seg_end = seg.global_index + seg.numel;
  // Groups whose four elements all lie in the segment sit at vector-aligned slab positions when the segment's global
  // index is a multiple of 4 (slab offsets are 256-byte aligned).
  const bool aligned = (seg.global_index & 3) == 0;
  T* const seg_base = slab + seg.slab_offset - seg.global_index;  // seg_base[i] is global element i
  const int64_t local0 = int64_t(blockIdx.x - table.block_start[s]) * kGroupsPerBlock + threadIdx.x;
  const int64_t last_group = (seg_end - 1) >> 2;

  // Round keys once per thread: they depend on the seeds only.
  const rng::PhiloxKeys perturb_keys = rng::philox_keys(k.perturb_seed);
  const rng::PhiloxKeys update_keys = rng::philox_keys(k.update_seed);
  Vec4<T> v[kGroupsPerThread];
  int64_t group[kGroupsPerThread];
  bool fast[kGroupsPerThread];
#pragma unroll
  for (int u = 0; u < kGroupsPerThread; ++u) {
    group[u] = seg_first_group + local0 + u * kThreads;
    fast[u] = aligned && group[u] <= last_group && 4 * group[u] + 4 <= seg_end;
    if (fast[u]) v[u] = *reinterpret_cast<const Vec4<T>*>(seg_base + 4 * group[u]);
  }
#pragma unroll
  for (int u = 0; u < kGroupsPerThread; ++u) {
    if (group[u] > last_group) continue;
    rng::Normal4 z{}, zp{};
    rng::Words4 bits{};
    if (kPerturb) z = rng::normal4(perturb_keys, uint64_t(group[u]));
    if (kUpdate) {
      zp = rng::normal4(update_keys, uint64_t(group[u]));
      if (kHalf) bits = rng::philox_words(update_keys, uint64_t(group[u]), rng::kStreamRounding);
    }
    if (fast[u]) {
#pragma unroll
      for (int lane = 0; lane < 4; ++lane)
        v[u].v[lane] = apply<T, kUpdate, kPerturb>(v[u].v[lane], lane, z, zp, bits, seg.decay != 0, k);
      *reinterpret_cast<Vec4<T>*>(seg_base + 4 * group[u]) = v[u];
    } else {  // a group straddling the segment's ends
#pragma unroll
      for (int lane = 0; lane < 4; ++lane) {
        const int64_t i = 4 * group[u] + lane;
        if (i < seg.global_index || i >= seg_end) continue;
        seg_base[i] = apply<T, kUpdate, kPerturb>(seg_base[i], lane, z, zp, bits, seg.decay != 0, k);
      }
    }
  }
}

template <typename T, bool kUpdate, bool kPerturb>
void launch_kernel(int groups_per_thread, unsigned blocks, T* slab, const SegmentTable& table, const ZoPassCoeffs& k,
                   cudaStream_t stream) {
  switch (groups_per_thread) {
    case 1: zo_pass_kernel<T, kUpdate, kPerturb, 1><<<blocks, kThreads, 0, stream>>>(slab, table, k); break;
    case 2: zo_pass_kernel<T, kUpdate, kPerturb, 2><<<blocks, kThreads, 0, stream>>>(slab, table, k); break;
    case 4: zo_pass_kernel<T, kUpdate, kPerturb, 4><<<blocks, kThreads, 0, stream>>>(slab, table, k); break;
    case 8: zo_pass_kernel<T, kUpdate, kPerturb, 8><<<blocks, kThreads, 0, stream>>>(slab, table, k); break;
    default: throw std::invalid_argument("zo_pass_cuda: groups per thread must be 1, 2, 4 or 8");
  }
}

template <typename T>
void launch(T* slab, const std::vector<ZoSegment>& segments, const ZoPassCoeffs& k, cudaStream_t stream,
            int groups_per_thread) {
  const int64_t kGroupsPerBlock = int64_t(kThreads) * groups_per_thread;
  const bool perturb = k.perturb_scale != 0.0f;
  if (!k.has_update && !perturb) return;  // nothing to do
  for (size_t begin = 0; begin < segments.size(); begin += kMaxSegments) {
    SegmentTable table{};
    table.count = int(std::min(segments.size() - begin, size_t(kMaxSegments)));
    int64_t blocks = 0;
    for (int s = 0; s < table.count; ++s) {
      const ZoSegment& seg = segments[begin + s];
      table.seg[s] = seg;
      table.block_start[s] = int32_t(blocks);
      const int64_t groups =
          seg.numel == 0 ? 0 : ((seg.global_index + seg.numel - 1) >> 2) - (seg.global_index >> 2) + 1;
      blocks += (groups + kGroupsPerBlock - 1) / kGroupsPerBlock;
    }
    table.block_start[table.count] = int32_t(blocks);
    if (blocks == 0) continue;
    if (blocks > int64_t(INT32_MAX)) throw std::invalid_argument("zo_pass_cuda: slab too large for one launch");
    const auto b = unsigned(blocks);
    if (k.has_update && perturb) launch_kernel<T, true, true>(groups_per_thread, b, slab, table, k, stream);
    else if (k.has_update) launch_kernel<T, true, false>(groups_per_thread, b, slab, table, k, stream);
    else launch_kernel<T, false, true>(groups_per_thread, b, slab, table, k, stream);
    CUDA_CHECK(cudaGetLastError());
  }
}

}  // namespace

void zo_pass_cuda(void* slab, DType dtype, const std::vector<ZoSegment>& segments, const ZoPassCoeffs& k,
                  void* stream, int groups_per_thread) {
  auto s = static_cast<cudaStream_t>(stream);
  const int g = groups_per_thread > 0 ? groups_per_thread : kDefaultGroupsPerThread;
  switch (dtype) {
    case DType::f32: return launch(static_cast<float*>(slab), segments, k, s, g);
    case DType::f16: return launch(static_cast<__half*>(slab), segments, k, s, g);
    case DType::bf16: return launch(static_cast<__nv_bfloat16*>(slab), segments, k, s, g);
    default: throw std::invalid_argument("zo_pass_cuda: slab dtype must be fp32, fp16 or bf16");
  }
}

}  // namespace zo2
