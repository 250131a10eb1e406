// The search for the fastest policy under a GPU memory budget. Resident sets are the first or the last N blocks
// (not arbitrary subsets); every other knob is a list of values to try (the knob table's search roles).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/policy.h"
#include "simulator/metrics.h"
#include "simulator/simulator.h"

namespace zo2::sim {

struct SearchSpace {
  int64_t gpu_mem_budget = 0;                        // bytes; 0 = only the card's memory limits
  std::vector<std::string> resident_sides = {"first", "last"};
  std::vector<int64_t> resident_counts;              // empty: 0 .. layers
  // The values tried for every knob of search role `grid` (core/policy_knobs.h); the offload list is replaced by the
  // resident sets above and the budget list is not read.
  PolicyGrid grid = search_defaults();
};

// Every distinct policy of the space for a model with `layers` layers; combinations that resolve_policy rejects
// (say fp8 wire with writeback 4) are left out and counted in `invalid`.
std::vector<Policy> enumerate_policies(const SearchSpace& space, int64_t layers, int64_t* invalid = nullptr);

struct SearchResult {
  bool found = false;
  Policy best;
  std::vector<Metric> metrics;  // of the best
  int64_t candidates = 0;       // distinct valid policies
  int64_t over_budget = 0;      // predicted or simulated peak above the budget (or the card)
  int64_t invalid = 0;
};

// Fastest mean step time among the policies whose predicted and simulated peak GPU memory fit the budget (and the
// card). Ties keep the first policy enumerated.
SearchResult search_fastest(const ModelShape& shape, int64_t batch, int64_t seq, const HardwareProfile& profile,
                            const SearchSpace& space, const CycleOptions& options = {});

}  // namespace zo2::sim
