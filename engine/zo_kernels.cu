// The fused ZO pass as one CUDA kernel per slab: each thread owns groups of four consecutive global indices (one
// Philox call), reads and writes the slab once, and never materialises z.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <stdexcept>

#include "engine/cuda_check.h"
#include "engine/cuda_float.cuh"
#include "engine/zo_kernels.h"

namespace zo2 {
namespace {

constexpr int kMaxSegments = 40;  // an OPT block has 16, the resident group up to 6: one launch per slab
constexpr int kThreads = 256;
// Groups of four elements per thread: their loads are issued together and their Philox calls are independent, so a
// thread keeps several memory requests and arithmetic chains in flight. Tuned on the GPU (bench_engine_zo_pass).
constexpr int kDefaultGroupsPerThread = 8;
// The register budget the engine runs with: fp32 passes at 32 registers (8 blocks per SM) reach 0.95 of the copy
// bandwidth with the pending update, 0.92 with the compiler's choice; the 16-bit passes gain nothing from either
// bound (bench_engine_zo_pass on the H200, commit 7d28522).
int default_min_blocks(DType dtype) { return dtype == DType::f32 ? 8 : 0; }

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

// Round to nearest into the storage format, and stochastically (core/zo_math.h) with 16 random bits.
template <typename T>
__device__ __forceinline__ T round_nearest(float x) {
  return from_f<T>(x);
}

template <typename T>
__device__ __forceinline__ T round_stochastic(float x, uint32_t bits);
template <>
__device__ __forceinline__ float round_stochastic<float>(float x, uint32_t) { return x; }
template <>
__device__ __forceinline__ __half round_stochastic<__half>(float x, uint32_t bits) {
  return __float2half_rz(fp16_stochastic_noised(x, bits));
}
template <>
__device__ __forceinline__ __nv_bfloat16 round_stochastic<__nv_bfloat16>(float x, uint32_t bits) {
  return __ushort_as_bfloat16(bf16_round_stochastic(x, bits));
}

// Which pass a kernel runs (ZoPassCoeffs): the pending update and/or +scale*z, or the folded restore.
enum class Mode { update_perturb, update, perturb, fold };
__host__ __device__ constexpr bool has_update(Mode m) { return m == Mode::update_perturb || m == Mode::update; }
__host__ __device__ constexpr bool has_perturb(Mode m) { return m != Mode::update; }

// One element. fp32: no rounding beyond the arithmetic's. 16-bit: the updated value is rounded stochastically and the
// perturbed one to nearest (core/zo_math.h).
template <typename T, Mode kMode>
__device__ __forceinline__ T apply(T value, float z, float z_prev, uint32_t bits, bool decay, const ZoPassCoeffs& k) {
  if constexpr (kMode == Mode::fold) {
    const float restored = to_f(round_nearest<T>(zo_perturbed_value(to_f(value), z, k)));
    return round_stochastic<T>(zo_updated_value(restored, z, decay, k), bits);
  } else if constexpr (kMode == Mode::perturb) {
    return round_nearest<T>(zo_perturbed_value(to_f(value), z, k));
  } else {
    const float updated = to_f(round_stochastic<T>(zo_updated_value(to_f(value), z_prev, decay, k), bits));
    return kMode == Mode::update ? round_nearest<T>(updated) : round_nearest<T>(zo_perturbed_value(updated, z, k));
  }
}

// Everything a launch needs, passed by value in the kernel's parameter space. The Philox round keys are computed on
// the host: the rounds then read them as constant-bank operands, where recomputing them per group cost ~18 of the
// ~170 instructions a group took (the kernel is bound by instruction issue, not by memory, for 16-bit slabs).
struct KernelArgs {
  SegmentTable table;
  ZoPassCoeffs k;
  rng::PhiloxKeys perturb_keys;
  rng::PhiloxKeys update_keys;
  rng::RoundingKeys rounding_keys;  // of the step whose update the pass applies (pending, or this step's if folded)
};

// The pass on one group of four elements (global indices 4*group .. 4*group+3), in registers.
template <typename T, Mode kMode>
__device__ __forceinline__ void transform_group(Vec4<T>& v, uint64_t group, bool decay, const KernelArgs& a) {
  constexpr bool kHalf = !std::is_same_v<T, float>;
  constexpr bool kRounds = kHalf && kMode != Mode::perturb;
  rng::Normal4 z{}, zp{};
  rng::Words4 bits{};
  if (has_perturb(kMode)) z = rng::normal4(a.perturb_keys, group);
  if (has_update(kMode)) zp = rng::normal4(a.update_keys, group);
  if (kRounds) bits = rng::rounding_bits4(a.rounding_keys, group);
#pragma unroll
  for (int lane = 0; lane < 4; ++lane)
    v.v[lane] = apply<T, kMode>(v.v[lane], z.z[lane], zp.z[lane], bits.w[lane], decay, a.k);
}

template <typename T, Mode kMode, int kGroupsPerThread>
__device__ __forceinline__ void zo_pass_body(T* __restrict__ slab, const KernelArgs& a) {
  constexpr int64_t kGroupsPerBlock = int64_t(kThreads) * kGroupsPerThread;
  int s = 0;
  while (s + 1 < a.table.count && a.table.block_start[s + 1] <= int(blockIdx.x)) ++s;
  const ZoSegment& seg = a.table.seg[s];
  const int64_t seg_end = seg.global_index + seg.numel;
  T* const seg_base = slab + seg.slab_offset - seg.global_index;  // seg_base[i] is global element i
  const int64_t block_group0 =
      (seg.global_index >> 2) + int64_t(blockIdx.x - a.table.block_start[s]) * kGroupsPerBlock;
  const bool decay = seg.decay != 0;

  // Interior block: every group lies wholly inside the segment at a vector-aligned slab position (slab offsets are
  // 256-byte aligned, so a segment whose global index is a multiple of 4 aligns its groups). No per-group checks:
  // all loads are issued first, then each group is transformed and stored.
  if ((seg.global_index & 3) == 0 && 4 * (block_group0 + kGroupsPerBlock) <= seg_end) {
    const uint64_t group0 = uint64_t(block_group0) + threadIdx.x;
    Vec4<T>* const p = reinterpret_cast<Vec4<T>*>(seg_base + 4 * int64_t(group0));
    Vec4<T> v[kGroupsPerThread];
#pragma unroll
    for (int u = 0; u < kGroupsPerThread; ++u) v[u] = p[u * kThreads];
#pragma unroll
    for (int u = 0; u < kGroupsPerThread; ++u) {
      transform_group<T, kMode>(v[u], group0 + uint64_t(u) * kThreads, decay, a);
      p[u * kThreads] = v[u];
    }
    return;
  }
  // Edge block (a segment's last block, or a segment not starting on a group): element by element, in range only.
  const int64_t last_group = (seg_end - 1) >> 2;
  for (int u = 0; u < kGroupsPerThread; ++u) {
    const int64_t group = block_group0 + threadIdx.x + int64_t(u) * kThreads;
    if (group > last_group) break;
    Vec4<T> v{};
    for (int lane = 0; lane < 4; ++lane) {
      const int64_t i = 4 * group + lane;
      if (i >= seg.global_index && i < seg_end) v.v[lane] = seg_base[i];
    }
    transform_group<T, kMode>(v, uint64_t(group), decay, a);
    for (int lane = 0; lane < 4; ++lane) {
      const int64_t i = 4 * group + lane;
      if (i >= seg.global_index && i < seg_end) seg_base[i] = v.v[lane];
    }
  }
}

// The register budget is the compiler's choice unless kMinBlocks > 0 asks for one that lets that many thread blocks
// share an SM (8 x 256 threads: 32 registers, full occupancy; 4: 64). Left to itself the compiler gives the 16-bit
// update pass 42 registers (60 % occupancy, ncu on the H200); asked for 1 block it takes up to 182.
template <typename T, Mode kMode, int kGroupsPerThread>
__global__ void __launch_bounds__(kThreads) zo_pass_kernel(T* __restrict__ slab, const __grid_constant__ KernelArgs a) {
  zo_pass_body<T, kMode, kGroupsPerThread>(slab, a);
}
template <typename T, Mode kMode, int kGroupsPerThread, int kMinBlocks>
__global__ void __launch_bounds__(kThreads, kMinBlocks)
    zo_pass_kernel_bounded(T* __restrict__ slab, const __grid_constant__ KernelArgs a) {
  zo_pass_body<T, kMode, kGroupsPerThread>(slab, a);
}

template <typename T, Mode kMode, int kGroupsPerThread>
void launch_groups(int min_blocks, unsigned blocks, T* slab, const KernelArgs& args, cudaStream_t stream) {
  switch (min_blocks) {
    case 0: zo_pass_kernel<T, kMode, kGroupsPerThread><<<blocks, kThreads, 0, stream>>>(slab, args); return;
    case 4:
      zo_pass_kernel_bounded<T, kMode, kGroupsPerThread, 4><<<blocks, kThreads, 0, stream>>>(slab, args);
      return;
    case 8:
      zo_pass_kernel_bounded<T, kMode, kGroupsPerThread, 8><<<blocks, kThreads, 0, stream>>>(slab, args);
      return;
    default: throw std::invalid_argument("zo_pass_cuda: min blocks per SM must be 0 (the compiler's choice), 4 or 8");
  }
}

template <typename T, Mode kMode>
void launch_kernel(int groups_per_thread, int min_blocks, unsigned blocks, T* slab, const KernelArgs& args,
                   cudaStream_t stream) {
  switch (groups_per_thread) {
    case 1: return launch_groups<T, kMode, 1>(min_blocks, blocks, slab, args, stream);
    case 2: return launch_groups<T, kMode, 2>(min_blocks, blocks, slab, args, stream);
    case 4: return launch_groups<T, kMode, 4>(min_blocks, blocks, slab, args, stream);
    case 8: return launch_groups<T, kMode, 8>(min_blocks, blocks, slab, args, stream);
    default: throw std::invalid_argument("zo_pass_cuda: groups per thread must be 1, 2, 4 or 8");
  }
}

template <typename T>
void launch(T* slab, const std::vector<ZoSegment>& segments, const ZoPassCoeffs& k, cudaStream_t stream,
            int groups_per_thread, int min_blocks) {
  const int64_t kGroupsPerBlock = int64_t(kThreads) * groups_per_thread;
  const bool perturb = k.perturb_scale != 0.0f;
  if (k.fold_update && k.has_update)
    throw std::invalid_argument("zo_pass_cuda: a folded restore applies this step's update; it has no pending one");
  if (!k.has_update && !perturb && !k.fold_update) return;  // nothing to do
  KernelArgs args{};
  args.k = k;
  args.perturb_keys = rng::philox_keys(k.perturb_seed);
  args.update_keys = rng::philox_keys(k.update_seed);
  args.rounding_keys = rng::rounding_keys(k.fold_update ? k.perturb_seed : k.update_seed);
  SegmentTable& table = args.table;
  for (size_t begin = 0; begin < segments.size(); begin += kMaxSegments) {
    table = SegmentTable{};
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
    if (k.fold_update) launch_kernel<T, Mode::fold>(groups_per_thread, min_blocks, b, slab, args, stream);
    else if (k.has_update && perturb) launch_kernel<T, Mode::update_perturb>(groups_per_thread, min_blocks, b, slab, args, stream);
    else if (k.has_update) launch_kernel<T, Mode::update>(groups_per_thread, min_blocks, b, slab, args, stream);
    else launch_kernel<T, Mode::perturb>(groups_per_thread, min_blocks, b, slab, args, stream);
    CUDA_CHECK(cudaGetLastError());
  }
}

}  // namespace

void zo_pass_cuda(void* slab, DType dtype, const std::vector<ZoSegment>& segments, const ZoPassCoeffs& k,
                  void* stream, int groups_per_thread, int min_blocks_per_sm) {
  auto s = static_cast<cudaStream_t>(stream);
  const int g = groups_per_thread > 0 ? groups_per_thread : kDefaultGroupsPerThread;
  const int m = min_blocks_per_sm >= 0 ? min_blocks_per_sm : default_min_blocks(dtype);
  switch (dtype) {
    case DType::f32: return launch(static_cast<float*>(slab), segments, k, s, g, m);
    case DType::f16: return launch(static_cast<__half*>(slab), segments, k, s, g, m);
    case DType::bf16: return launch(static_cast<__nv_bfloat16*>(slab), segments, k, s, g, m);
    default: throw std::invalid_argument("zo_pass_cuda: slab dtype must be fp32, fp16 or bf16");
  }
}

}  // namespace zo2
