// Fused ZO passes over one flat slab: a CPU loop and a CUDA kernel computing the same function (core/zo_math.h).
// Raw pointers and plain structs only, so this header costs nothing to include and needs neither LibTorch nor CUDA.
#pragma once
#include <cstdint>
#include <vector>

#include "core/dtype.h"
#include "core/slab_layout.h"
#include "core/zo_math.h"

namespace zo2 {

// One tensor of a slab: where it sits, which global RNG indices it owns, and whether weight decay applies.
struct ZoSegment {
  int64_t slab_offset;   // elements
  int64_t global_index;  // first element's global index
  int64_t numel;
  int32_t decay;
  int32_t pad_ = 0;
};

std::vector<ZoSegment> zo_segments(const SlabLayout& layout);

// theta <- pass(theta) over every segment of the slab, in place. dtype: f32, f16 or bf16. At most `max_threads`
// threads of ATen's intra-op pool work on it (0: all of them; --host-threads); the result does not depend on it.
void zo_pass_cpu(void* slab, DType dtype, const std::vector<ZoSegment>& segments, const ZoPassCoeffs& k,
                 int64_t max_threads = 0);

// How many distinct threads the CPU loop's at::parallel_for really runs on (at::get_num_threads() says how many it
// may use; a build without OpenMP on this file would run one).
int cpu_pass_threads(int64_t max_threads = 0);

// The same on the GPU, enqueued on `stream` (a cudaStream_t). Throws if CUDA support was not built.
// The benchmark's knobs: groups_per_thread (1, 2, 4, 8; 0 = the tuned default) and min_blocks_per_sm, the register
// budget (0: the compiler's choice; 4 or 8 thread blocks of 256 per SM: at most 64 or 32 registers; -1 = the tuned
// default).
void zo_pass_cuda(void* slab, DType dtype, const std::vector<ZoSegment>& segments, const ZoPassCoeffs& k,
                  void* stream, int groups_per_thread = 0, int min_blocks_per_sm = -1);

}  // namespace zo2
