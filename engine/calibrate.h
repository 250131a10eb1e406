// zo2 calibrate: measures the GPU machine (link, allocation, GEMM, memory, RNG, launches, the engine's own block
// forward and ZO passes) into a hardware profile the simulator reads. One small function per measured quantity;
// each times with CUDA events after a warm-up and returns the median of its repeats. Built only with CUDA.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/dtype.h"
#include "core/model_shape.h"
#include "core/calibration_measurements.h"

namespace zo2 {

struct CalibrateOptions {
  std::string name = "measured";  // the profile's "name"
  std::vector<std::string> models{"opt-1.3b", "opt-6.7b", "opt-13b", "opt-30b"};  // presets: block shapes to time
  int64_t batch = 1, seq = 2048;
  DType dtype = DType::f16;                 // compute format of the block timings
  int warmup = 2, repeats = 7;
  std::vector<int64_t> copy_sizes{1 << 20, 4 << 20, 16 << 20, 64 << 20, 256 << 20, int64_t(1) << 30};
  int64_t concurrent_bytes = int64_t(1) << 30;
  std::vector<int64_t> alloc_sizes{1 << 20, 16 << 20, 256 << 20, int64_t(1) << 30};  // block sizes are added
  int64_t gemm_size = 8192;
  int64_t device_copy_bytes = int64_t(1) << 30;
  int64_t host_update_elements = int64_t(1) << 26;
  int64_t codec_bytes = int64_t(1) << 27;   // the bf16 block the GPU wire codec is timed on
  std::string alloc_field = "engine";       // what malloc_free_seconds holds: "engine" or "cudamalloc"
  double resident_seconds = 2.0;            // timed part of the resident block loop per model (0: not measured)
  bool verbose = true;                      // one progress line per measurement on stderr
};

// Each quantity on its own (the current CUDA device; the caller has checked cuda_available()).
struct CopyRates {
  SizePoints h2d, d2h;
};
CopyRates measure_copy_rates(const std::vector<int64_t>& sizes, bool pinned, int warmup, int repeats);
double measure_concurrent_rate(int64_t bytes, int warmup, int repeats);        // B/s, both directions summed
double measure_cuda_malloc_free(int64_t bytes, int warmup, int repeats);       // s per cudaMalloc + cudaFree
double measure_caching_alloc(int64_t bytes, bool zero, int warmup, int repeats);  // s per engine-style alloc + release
double measure_gemm_rate(DType dtype, int64_t n, int warmup, int repeats);     // FLOP/s
double measure_device_copy_rate(int64_t bytes, int warmup, int repeats);       // B/s read + written
double measure_launch_overhead(int warmup, int repeats);                       // s per tiny kernel
double measure_host_sync(int warmup, int repeats);                             // s per loss read
double measure_host_update_rate(int64_t elements, int warmup, int repeats);    // elements/s, CPU fused pass
struct CodecRates {
  double decode_bytes_per_second = 0, encode_bytes_per_second = 0;  // raw bytes of the block per second
};
// The GPU wire codec (engine/wire_codec_cuda.h) on `bytes` of bf16 N(0, 0.02) weights coded with their own table:
// decode into a block, encode over the blob it read; the decode is checked bitwise against the block.
CodecRates measure_codec_rates(int64_t bytes, int warmup, int repeats);
struct BlockTimes {
  double forward_seconds = 0, zo_update_seconds = 0, zo_perturb_seconds = 0;
  double zo_fold_seconds = 0;  // the folded restore (--fold-update): +eps z, then this step's update with that z
  int64_t slab_bytes = 0, params = 0;
};
BlockTimes measure_block(const ModelShape& shape, DType dtype, int64_t batch, int64_t seq, bool zo, int warmup,
                         int repeats);
// Seconds per block of a resident step's block loop over `slabs` blocks each in its own device slab, in order, back to
// back: 1 s (or `seconds` when shorter) of the same load first, then `seconds` timed in windows of about 0.5 s, at
// least 3 (CUDA events); the median window, per block. The loop is the one a resident block runs by default
// (--fold-update on: zo+ perturb only, fwd+, zo-, fwd-, zo= folded); profiles record it as resident_loop "folded".
double measure_block_loop(const ModelShape& shape, DType dtype, int64_t batch, int64_t seq, int64_t slabs,
                          double seconds);
struct EmbedHeadTimes {
  double embed_seconds = 0, head_loss_seconds = 0;
};
EmbedHeadTimes measure_embed_head(const ModelShape& shape, DType dtype, int64_t batch, int64_t seq, int warmup,
                                  int repeats);

// Everything, as a plain record (throws naming the flag when an option is invalid, or when there is no GPU);
// simulator/calibration_profile.h turns it into the profile.
CalibrationMeasurements measure_hardware(const CalibrateOptions& options);

}  // namespace zo2
