// Scheduling policy of a ZO2 step: the knobs shared by `zo2 train`, `zo2 simulate`, `zo2 sweep` and the plan.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/dtype.h"

namespace zo2 {

enum class SlotMode : uint8_t { reuse, alloc };
std::string_view slot_mode_name(SlotMode m);

// The knobs as typed on the command line or in a sweep spec, before a model (its layer count) is known.
// Empty wire/master mean "the same as dtype".
struct PolicyOptions {
  std::string offload = "all";  // "all", "none" or a list "0-5,8,10-11"
  int64_t prefetch = 1;
  std::string slots = "reuse";
  std::string overlap = "on";
  std::string dtype = "fp16";
  std::string wire;    // "" = dtype
  std::string master;  // "" = dtype
  int64_t writeback = 1;
  std::string gpu_mem_budget = "0";  // bytes, or with a suffix: 40GB, 40GiB, 512MB, 0 = none
  std::string prefetch_next = "off";
  std::string fold_update = "on";
};

// The resolved policy for a model with a known number of layers.
struct Policy {
  std::vector<bool> offload;  // offload[l]: block l lives in host memory and streams through a GPU slot
  int64_t prefetch = 1;       // blocks uploaded ahead of the one computing (D >= 0)
  SlotMode slots = SlotMode::reuse;
  bool overlap = true;        // false: every op on one queue in program order
  DType dtype = DType::f16;   // compute format on the GPU
  DType wire = DType::f16;    // format on the link
  DType master = DType::f16;  // host copy
  int64_t writeback = 1;      // copy a block back every K steps (K >= 1)
  int64_t gpu_mem_budget = 0; // bytes; 0 = no budget
  // Upload the next step's first blocks at the end of this step, while its last block and the head compute, so the
  // link never idles between steps (core/plan.h says how plans chain).
  bool prefetch_next = false;
  // Blocks that stay on the GPU (resident blocks and the resident group) apply a step's update in that step's restore
  // pass, after the loss, with the z the restore regenerates anyway: one normal per element per pass. Off: ZO2's
  // order, the update pending until the next step's first pass, which regenerates two (the old z and the new).
  // Offloaded blocks always keep it pending: they have left the GPU by the time the loss is known.
  bool fold_update = true;

  int64_t layers() const { return int64_t(offload.size()); }
  int64_t offloaded_count() const;
  // Whether block `layer` (-1: the resident group) applies its update in its restore pass (fold_update above).
  bool folds(int64_t layer) const { return fold_update && (layer < 0 || !offload[size_t(layer)]); }
  // Wire at least as precise as master: the GPU applies the update and copies the block back.
  // Wire below master: the GPU computes on a rounded copy and the host updates its master from the regenerated z.
  bool gpu_writes_back() const;
  // Throws std::invalid_argument naming the flag when the combination is not meaningful.
  void validate() const;
};

// Parses each field; every error names the flag (--offload, --prefetch, ...) and the accepted values.
Policy resolve_policy(const PolicyOptions& options, int64_t layers);

// --offload parsing and formatting. parse_offload throws naming `--offload` (or `what`) for a bad list or a layer
// outside [0, layers).
std::vector<bool> parse_offload(std::string_view text, int64_t layers, std::string_view what = "--offload");
std::string format_offload(const std::vector<bool>& offload);  // "all", "none" or the shortest range list
// Offload specs that keep the first or the last `resident` blocks on the GPU (the resident sets the search tries).
std::string offload_spec_first_resident(int64_t resident, int64_t layers);
std::string offload_spec_last_resident(int64_t resident, int64_t layers);

// "40GB" (1e9), "40GiB" (2^30), "512MB", "1024", "0"; throws naming `what`.
int64_t parse_bytes(std::string_view text, std::string_view what);
// Precision order used for wire-versus-master: fp8 < fp16 = bf16 < fp32 (bits of mantissa decide; fp16 and bf16
// are both 16-bit and neither holds the other, so a 16-bit wire with the other 16-bit master counts as "below").
bool at_least_as_precise(DType a, DType b);

// JSON form (the same field names as the flags, without dashes); from_json errors name `where` and the field.
nlohmann::json policy_to_json(const Policy& p);
PolicyOptions policy_options_from_json(const nlohmann::json& j, const std::string& where);
PolicyOptions policy_options_of(const Policy& p);  // the options that resolve back to p

}  // namespace zo2
