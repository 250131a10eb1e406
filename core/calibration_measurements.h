// zo2 calibrate's measurements as a plain record (what engine/calibrate.cc measures); simulator/calibration_profile.h
// turns it into a hardware profile. Free of LibTorch and CUDA, so the simulator's tests can fake one without a GPU.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/dtype.h"

namespace zo2 {

// (bytes, value) points, as measured; the assembler sorts them and merges equal sizes.
using SizePoints = std::vector<std::pair<double, double>>;

struct CalibrationMeasurements {
  std::string name, card, driver, date;
  std::string commit = "unknown";  // which zo2 measured (kept in the profile's calibration record)
  int64_t gpu_memory_bytes = 0, host_memory_bytes = 0;
  int repeats = 0, warmup = 0;

  // Link: bytes per second, one direction alone, by copy size.
  SizePoints h2d_pinned, d2h_pinned, h2d_pageable, d2h_pageable;
  double concurrent_bytes_per_second = 0;  // both directions at once (two streams), summed
  double concurrent_copy_bytes = 0;

  // Allocation, seconds by buffer size. Which one the profile's malloc_free_seconds holds is `alloc_field`.
  SizePoints cuda_malloc_free_seconds;  // raw cudaMalloc + cudaFree pair
  SizePoints caching_alloc_seconds;     // the engine's --slots alloc path: allocate_aligned on the device through
                                        // PyTorch's caching allocator (no fill since 5c64509) and its release
  SizePoints caching_zeroed_seconds;    // the same with a zero fill (the engine's alloc before 5c64509), for reference
  std::string alloc_field = "engine";   // "engine": caching_alloc_seconds; "cudamalloc": cuda_malloc_free_seconds

  std::map<DType, double> gemm_flops_per_second;  // large square GEMM
  int64_t gemm_size = 0;
  double device_copy_bytes_per_second = 0;        // read + written
  double gpu_rng_samples_per_second = 0;
  std::string gpu_rng_how;                        // how the rate was derived (for its source)
  double launch_overhead_seconds = 0;
  double host_sync_seconds = 0;
  double host_update_elements_per_second = 0;
  int host_threads = 0;
  // The lossless wire codec on the GPU (engine/wire_codec_cuda.h): raw bytes of a bf16 block decoded or encoded per
  // second, on `codec_block_bytes` bytes of N(0, 0.02) weights; 0 when not measured.
  double codec_decode_bytes_per_second = 0, codec_encode_bytes_per_second = 0;
  int64_t codec_block_bytes = 0;

  struct Block {
    std::string model;
    int64_t hidden = 0, ffn = 0, heads = 0;
    std::string family = "opt";          // with kv_heads and head_dim, the rest of the block shape that keys the entry
    int64_t kv_heads = 0, head_dim = 0;
    DType dtype = DType::f16;
    int64_t batch = 0, seq = 0;
    int64_t slab_bytes = 0, params = 0;
    double forward_flops = 0;
    double forward_seconds = 0, zo_update_seconds = 0, zo_perturb_seconds = 0;
    double zo_fold_seconds = 0;  // zo= with --fold-update: +eps z, then this step's update with that z; 0: not measured
    // A resident step's block loop (zo+, fwd+, zo-, fwd-, zo=) over the model's blocks, each in its own slab, back
    // to back in steady state, per block; 0 when not measured. The same loop over one slab (diagnostic: it separates
    // a sustained-load slowdown of the GPU from one that comes with many distinct slabs) goes to the record only.
    double resident_block_seconds = 0, one_slab_block_seconds = 0;
    int64_t resident_slabs = 0;
    double resident_seconds = 0;  // how long the loop ran (timed part)
    // Which loop ran (the profile's block_timings[].resident_loop): "pending" (zo+ with the pending update, ..., zo=
    // +eps) or "folded" (zo+ +eps only, ..., zo= folded; what zo2 calibrate runs, resident blocks' default order).
    std::string resident_loop = "pending";
    // The single-shot passes of that loop, summed (the denominator of the simulator's resident factor).
    double isolated_block_seconds() const {
      return resident_loop == "folded" ? 2 * zo_perturb_seconds + zo_fold_seconds + 2 * forward_seconds
                                       : zo_update_seconds + 2 * forward_seconds + 2 * zo_perturb_seconds;
    }
  };
  std::vector<Block> blocks;  // block_timings entries (the compute dtype, every model)

  // A block forward per dtype on the largest measured block shape: sets forward_efficiency for the roofline
  // (the embedding, the head, replays and any model without block_timings: OPT-66B, OPT-175B).
  struct Efficiency {
    std::string model;
    double forward_flops = 0, forward_seconds = 0;
  };
  std::map<DType, Efficiency> efficiency_blocks;

  struct ModelTiming {
    std::string model;
    DType dtype = DType::f16;
    int64_t batch = 0, seq = 0;
    double embed_seconds = 0, head_loss_seconds = 0, head_forward_flops = 0;
    int64_t hidden = 0, vocab = 0, proj = 0;  // the shape that keys the profile's model_timings entry
    std::string family = "opt";
  };
  std::vector<ModelTiming> model_timings;  // the profile's model_timings (embed and head+loss of each model)
};

}  // namespace zo2
