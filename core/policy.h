// Scheduling policy of a ZO2 step: the knobs shared by `zo2 train`, `zo2 simulate`, `zo2 sweep` and the plan.
#pragma once
#include <cstdint>
#include <functional>
#include <utility>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/dtype.h"
#include "core/policy_knobs.h"

namespace zo2 {

// The knobs as typed on the command line or in a sweep spec, before a model (its layer count) is known: one field per
// line of ZO2_POLICY_KNOBS (core/policy_knobs.h), with its option default. Empty wire/master mean "the same as dtype".
struct PolicyOptions {
#define ZO2_X(name, Kind, option, value, flag, help, legacy, search, tried) Kind::Option name = option;
  ZO2_POLICY_KNOBS(ZO2_X)
#undef ZO2_X
};

// The resolved policy for a model with a known number of layers: one field per knob, of its kind's value type.
//   offload[l]     block l lives in host memory and streams through a GPU slot
//   prefetch       blocks uploaded ahead of the one computing (D >= 0)
//   overlap        false: every op on one queue in program order
//   dtype, wire, master: compute format on the GPU, format on the link, host copy
//   writeback      copy a block back every K steps (K >= 1)
//   gpu_mem_budget bytes; 0 = no budget
//   prefetch_next  upload the next step's first blocks at the end of this step, while its last block and the head
//                  compute, so the link never idles between steps (core/plan.h says how plans chain).
//   fold_update    blocks that stay on the GPU (resident blocks and the resident group) apply a step's update in that
//                  step's restore pass, after the loss, with the z the restore regenerates anyway: one normal per
//                  element per pass. Off: ZO2's order, the update pending until the next step's first pass, which
//                  regenerates two (the old z and the new). Offloaded blocks always keep it pending: they have left
//                  the GPU by the time the loss is known.
//   host_threads   threads of the host's master update (wire below master); 0: all the host has. A host shared by
//                  several ranks (one host update each), or beside data loading, gives each its share; the
//                  simulator scales the profile's rate by the share (simulator/cost_model.h).
//   fused_kernels  the rotary families' blocks on CUDA run engine/rotary_fused.cc (fused elementwise kernels, joint
//                  GEMMs): the HF path's arithmetic within rounding, not bitwise. No effect on the CPU or for OPT; the
//                  simulator's forward times come from a profile calibrated with it on.
//   wire_codec     lossless: the host holds each offloaded block entropy-coded (core/wire_codec.h), the upload
//                  carries the coded bytes, the GPU decodes them into the slot (dec/Lxx) and encodes the slot again
//                  before the copy back (enc/Lxx). Needs a 16-bit wire (bf16 or fp16) that the GPU writes back;
//                  without offloaded blocks it changes nothing.
struct Policy {
#define ZO2_X(name, Kind, option, value, flag, help, legacy, search, tried) Kind::Value name = value;
  ZO2_POLICY_KNOBS(ZO2_X)
#undef ZO2_X

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
// Each knob's value as text (the flag's spelling: the CSV cells, `zo2 knobs`), keyed by knob name, in table order.
std::vector<std::pair<std::string, std::string>> policy_fields(const Policy& p);
// "dtype fp16, offload all, prefetch 1, ..." (flag names without dashes), for tables and plan descriptions.
std::string policy_summary(const Policy& p);

// Lists of option values per knob (a sweep grid, a search space); an empty list keeps the option default.
struct PolicyGrid {
#define ZO2_X(name, Kind, option, value, flag, help, legacy, search, tried) std::vector<Kind::Option> name;
  ZO2_POLICY_KNOBS(ZO2_X)
#undef ZO2_X
};
// The values the search tries by default (the table's `tried`).
PolicyGrid search_defaults();
// {"prefetch": [0, 1], "writeback": 4, ...}: each field a value or a non-empty list of them, checked as
// policy_options_from_json checks one; `skip` names keys the caller reads itself. Errors name `where` and the field.
PolicyGrid policy_grid_from_json(const nlohmann::json& j, const std::string& where,
                                 const std::vector<std::string>& skip = {});
// Calls `fn` with every combination (the cartesian product of the non-empty lists over `base`), as nested loops in
// table order (the last knob varies fastest).
void for_each_policy_options(const PolicyGrid& grid, const PolicyOptions& base,
                             const std::function<void(const PolicyOptions&)>& fn);

}  // namespace zo2
