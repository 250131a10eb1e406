// Enumerates the search space and keeps the fastest policy that fits the memory budget.
#include "simulator/search.h"

#include <set>
#include <stdexcept>

#include <nlohmann/json.hpp>

namespace zo2::sim {

std::vector<Policy> enumerate_policies(const SearchSpace& sp, int64_t layers, int64_t* invalid) {
  std::vector<Policy> out;
  std::set<std::string> seen;
  int64_t bad = 0;
  std::vector<int64_t> counts = sp.resident_counts;
  if (counts.empty())
    for (int64_t n = 0; n <= layers; ++n) counts.push_back(n);
  for (const auto& side : sp.resident_sides) {
    if (side != "first" && side != "last")
      throw std::invalid_argument("search: resident side '" + side + "' (expected first or last)");
    for (int64_t n : counts) {
      if (n < 0 || n > layers) continue;
      PolicyGrid grid = sp.grid;
      grid.offload = {side == "first" ? offload_spec_first_resident(n, layers) : offload_spec_last_resident(n, layers)};
      grid.gpu_mem_budget.clear();
      for_each_policy_options(grid, PolicyOptions{}, [&](const PolicyOptions& o) {
        Policy p;
        try {
          p = resolve_policy(o, layers);
        } catch (const std::invalid_argument&) {
          ++bad;
          return;
        }
        // Knobs that change nothing for this policy take their defaults, so that each distinct policy is kept once.
        const Policy defaults;
        if (p.offloaded_count() == 0) {  // nothing streams
          p.prefetch = 0;
          p.writeback = 1;
          p.slots = SlotMode::reuse;
          p.wire = p.master = p.dtype;
          p.prefetch_next = false;
          p.wire_codec = defaults.wire_codec;
        }
        if (p.gpu_writes_back()) p.host_threads = defaults.host_threads;  // no host update runs
        if (seen.insert(policy_to_json(p).dump()).second) out.push_back(std::move(p));
      });
    }
  }
  if (invalid) *invalid = bad;
  return out;
}

SearchResult search_fastest(const ModelShape& shape, int64_t batch, int64_t seq, const HardwareProfile& profile,
                            const SearchSpace& space, const CycleOptions& options) {
  SearchResult r;
  const auto policies = enumerate_policies(space, shape.layers, &r.invalid);
  r.candidates = int64_t(policies.size());
  const int64_t limit = space.gpu_mem_budget > 0 ? std::min(space.gpu_mem_budget, profile.gpu_memory_bytes)
                                                 : profile.gpu_memory_bytes;
  double best = 0;
  for (const Policy& p : policies) {
    // The step-0 plan's prediction decides quickly; the budget itself is checked here, not by the plan builder.
    const Plan probe = build_plan(shape, p, batch, seq, 0, options.memory_model);
    if (probe.memory.gpu_total() > limit) {
      ++r.over_budget;
      continue;
    }
    const CycleResult c = simulate_cycle(shape, p, batch, seq, profile, options);
    const auto metrics = cycle_metrics(c, profile);
    if (find_metric(metrics, "peak_gpu_bytes")->value > double(limit)) {
      ++r.over_budget;
      continue;
    }
    const double t = c.mean_step_seconds();
    if (!r.found || t < best) {
      r.found = true;
      best = t;
      r.best = p;
      r.best.gpu_mem_budget = space.gpu_mem_budget;
      r.metrics = metrics;
    }
  }
  return r;
}

}  // namespace zo2::sim
