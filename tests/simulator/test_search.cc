// The policy search returns the fastest policy that fits the budget, checked by brute force.
#include <set>

#include <catch2/catch_test_macros.hpp>
#include <nlohmann/json.hpp>

#include "simulator/search.h"
#include "tests/simulator/sim_test_util.h"

using namespace zo2;
using namespace zo2::sim;
using namespace zo2::sim::testing;

TEST_CASE("search finds the fastest policy under the budget", "[search]") {
  const ModelShape shape = model_preset("opt-1.3b");
  const HardwareProfile prof = load_profile("h100-targets");
  SearchSpace space;
  space.grid.prefetch = {0, 1, 2};
  space.grid.writeback = {1, 4};
  space.resident_counts = {0, 2, 6, 12, 24};
  const Plan all = build_plan(shape, policy("all", 1, 1, 24), 1, 2048);
  space.gpu_mem_budget = all.memory.gpu_total() + 3 * all.compute_block_bytes;  // room for about 3 resident blocks
  const SearchResult r = search_fastest(shape, 1, 2048, prof, space);
  REQUIRE(r.found);
  CHECK(find_metric(r.metrics, "peak_gpu_bytes")->value <= double(space.gpu_mem_budget));
  CHECK(r.best.offloaded_count() >= 22);
  CHECK(r.over_budget > 0);
  // Brute force over the same space.
  double best = 1e30;
  for (const Policy& p : enumerate_policies(space, shape.layers)) {
    if (build_plan(shape, p, 1, 2048).memory.gpu_total() > space.gpu_mem_budget) continue;
    best = std::min(best, simulate_cycle(shape, p, 1, 2048, prof).mean_step_seconds());
  }
  CHECK(find_metric(r.metrics, "step_seconds")->value == best);
  // A larger budget is never slower.
  space.gpu_mem_budget = 0;
  const SearchResult free = search_fastest(shape, 1, 2048, prof, space);
  CHECK(find_metric(free.metrics, "step_seconds")->value <= best);
}

TEST_CASE("the search space enumerates distinct valid policies", "[search]") {
  SearchSpace space;
  space.resident_counts = {0, 1, 4};
  space.grid.prefetch = {1};
  space.grid.writeback = {1, 4};
  space.grid.wire = {"", "fp8"};
  int64_t invalid = 0;
  const auto ps = enumerate_policies(space, 4, &invalid);
  // first/last with 0 resident are the same "all"; 4 resident = "none" (streaming knobs collapse).
  CHECK(invalid > 0);  // fp8 wire with writeback 4
  std::set<std::string> keys;
  for (const auto& p : ps) keys.insert(policy_to_json(p).dump());
  CHECK(keys.size() == ps.size());
  CHECK(ps.size() == 1 * 3 + 2 * 3 /* first/last 1 */ + 1);
}
