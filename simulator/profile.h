// Hardware profiles: the measured rates and latencies the simulator's cost model reads (JSON under
// simulator/profiles/, schema in simulator/README.md). parse_profile is the schema's one reader and profile_to_json
// its one writer (zo2 calibrate writes through it: simulator/calibration_profile.h). Parse errors name the file, the
// field and what was expected.
#pragma once
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/dtype.h"
#include "core/model_shape.h"

namespace zo2::sim {

// A value by copy or allocation size: piecewise linear in log(bytes) between the points, constant outside them.
struct SizeTable {
  std::vector<std::pair<double, double>> points;  // (bytes, value), bytes strictly increasing
  double at(double bytes) const;
};

// How a block entry's resident_block_seconds was measured: which five passes the resident loop ran per block.
//   pending: zo+ (pending update and +eps, two z), fwd+, zo-, fwd-, zo= (+eps): ZO2's order, --fold-update off. What
//            every profile written before the fold meant, and what an entry without "resident_loop" means.
//   folded:  zo+ (+eps only, one z), fwd+, zo-, fwd-, zo= folded (restore then this step's update, one z): the
//            resident order with --fold-update on.
enum class ResidentLoop : uint8_t { pending, folded };
std::string_view resident_loop_name(ResidentLoop l);

// Measured per-block times for one (block shape, dtype, batch, seq); they replace the roofline when they match. The
// block shape is the family and every field that changes a block's cost: hidden, ffn, heads, kv_heads, head_dim.
struct BlockTiming {
  int64_t hidden = 0, ffn = 0, heads = 0;
  DType dtype = DType::f16;
  int64_t batch = 0, seq = 0;
  double forward_seconds = 0;     // one block, one pass (fwd+/L or fwd-/L)
  double zo_update_seconds = 0;   // zo+/L: pending update and +eps
  double zo_perturb_seconds = 0;  // zo-/L or zo=/L, and zo+/L of a block that folds its update
  // Optional (0 when absent): one block's five ops as a resident step runs them (the composition in
  // `resident_loop`), the model's blocks each in its own slab, back to back in steady state. The ops of resident
  // blocks then cost their measured time x resident_block_seconds / isolated_block_seconds() (cost_model.h).
  double resident_block_seconds = 0;
  // Optional (0 when absent): zo=/L with --fold-update, the restore followed by this step's update (one z). Without
  // it the cost model charges zo_update_seconds, an upper bound (that pass regenerates two z).
  double zo_fold_seconds = 0;
  ResidentLoop resident_loop = ResidentLoop::pending;
  // The family and the attention's head layout. A record without "family" predates the registry (only OPT and LLaMA
  // were measured): it is read as the OPT or LLaMA preset with its hidden, ffn and heads (OPT when none has them).
  std::string family = "opt";
  int64_t kv_heads = 0, head_dim = 0;  // 0 when built in code: heads, hidden / heads
  int64_t resolved_kv_heads() const { return kv_heads > 0 ? kv_heads : heads; }
  int64_t resolved_head_dim() const { return head_dim > 0 ? head_dim : (heads > 0 ? hidden / heads : 0); }
  bool matches(const ModelShape& s) const;
  std::string source = "zo2 calibrate";  // how the record was measured
  // The single-shot ops of the composition the resident loop measured, so that the ratio compares like with like.
  double isolated_block_seconds() const {
    return resident_loop == ResidentLoop::folded
               ? 2 * zo_perturb_seconds + zo_fold_seconds + 2 * forward_seconds  // zo+, zo-; zo= folded
               : zo_update_seconds + 2 * forward_seconds + 2 * zo_perturb_seconds;
  }
};

// Measured times of the resident group's forward pieces for one (model shape, dtype, batch, seq): they replace the
// roofline for embed/fwd± and head/fwd± when they match (family, vocab_size, word_embed_proj_dim and hidden key the
// shape; a record without "family" is read as BlockTiming's are).
struct ModelTiming {
  int64_t hidden = 0, vocab = 0, proj = 0;  // proj: word_embed_proj_dim
  DType dtype = DType::f16;
  int64_t batch = 0, seq = 0;
  double embed_seconds = 0;      // one pass's embedding (embed/fwd+ or embed/fwd-)
  double head_loss_seconds = 0;  // one pass's final norm, logits and loss (head/fwd+ or head/fwd-)
  std::string family = "opt";
  bool matches(const ModelShape& s) const;
  std::string source = "zo2 calibrate";
};

struct HardwareProfile {
  std::string name, card, driver, date, source;
  int64_t gpu_memory_bytes = 0;
  int64_t host_memory_bytes = 0;
  SizeTable h2d_pinned, d2h_pinned, h2d_pageable, d2h_pageable;  // bytes per second, one direction alone
  double concurrent_bytes_per_second = 0;  // both directions together, at concurrent_copy_bytes per copy
  double concurrent_copy_bytes = 0;
  SizeTable malloc_free_seconds;           // cudaMalloc + cudaFree of one buffer, by size
  std::map<DType, double> gemm_flops_per_second;  // fp16, bf16, fp32
  std::map<DType, double> forward_efficiency;     // achieved fraction of the GEMM rate in a block forward
  double device_copy_bytes_per_second = 0; // bytes read plus written
  double gpu_rng_samples_per_second = 0;   // normal samples per second (regenerating z)
  double launch_overhead_seconds = 0;      // per kernel launch
  double host_sync_seconds = 0;            // the host's wait for the losses
  double host_update_elements_per_second = 0;  // host master update from regenerated z, all host threads
  // Optional (0 when absent): how many threads that rate was measured on. --host-threads N prices the host update at
  // the rate x min(N, this) / this (the pass is per-element independent work); N > 0 needs it.
  double host_update_threads = 0;
  // Optional (0 when absent): the lossless wire codec's GPU kernels, raw bytes of a block decoded (dec/Lxx) or
  // encoded (enc/Lxx) per second. A plan with --wire-codec lossless and offloaded blocks needs both.
  double codec_decode_bytes_per_second = 0, codec_encode_bytes_per_second = 0;
  std::vector<BlockTiming> block_timings;
  std::vector<ModelTiming> model_timings;
  std::map<std::string, std::string> sources;  // field -> where its number comes from
  // zo2 calibrate's raw record ("calibration", JSON text; "" when absent): not read by the simulator, kept so that a
  // profile read and written again loses nothing.
  std::string calibration;

  // Both directions busy: each runs at its one-way rate times this factor (<= 1 on PCIe).
  double concurrent_factor() const;
  const BlockTiming* find_block_timing(const ModelShape& shape, DType dt, int64_t batch, int64_t seq) const;
  const ModelTiming* find_model_timing(const ModelShape& shape, DType dt, int64_t batch, int64_t seq) const;
};

HardwareProfile parse_profile(const nlohmann::json& j, const std::string& where);
HardwareProfile load_profile_file(const std::filesystem::path& path);
// NAME (a file NAME.json in $ZO2_PROFILE_DIR or the source tree's simulator/profiles) or a path to a JSON file.
HardwareProfile load_profile(const std::string& name_or_path);
std::filesystem::path profile_dir();
// The same schema, sources kept as "source" strings: parse_profile(profile_to_json(p)) holds what p holds.
nlohmann::json profile_to_json(const HardwareProfile& p);

}  // namespace zo2::sim
