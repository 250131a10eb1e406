// Inputs found by the fuzz targets (fuzz/, tests/data/fuzz/) for `zo2 simulate --plan` and `zo2 sweep`: an op cost
// beyond the simulator's clock (was undefined behaviour) and a sweep spec expanding for hours (was a hang).
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <filesystem>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "core/json_file.h"
#include "core/plan_json.h"
#include "simulator/simulator.h"
#include "simulator/sweep_spec.h"

using Catch::Matchers::ContainsSubstring;

TEST_CASE("an op cost beyond the simulator's clock is refused, not wrapped around") {
  const std::filesystem::path path = std::filesystem::path(ZO2_FUZZ_DATA_DIR) / "plan_flops_beyond_clock.json";
  nlohmann::json j = zo2::read_json_file(path);
  const auto profile = zo2::sim::load_profile("h100-targets");
  CHECK_THROWS_AS(zo2::sim::simulate(zo2::plan_from_json(j, path.string()), profile), std::invalid_argument);
  CHECK_THROWS_WITH(zo2::sim::simulate(zo2::plan_from_json(j, path.string()), profile),
                    ContainsSubstring("beyond the simulator's clock"));
  // The same op at a sane size simulates, taking flops / rate.
  j["ops"][0]["flops"] = 1e12;
  const auto r = zo2::sim::simulate(zo2::plan_from_json(j, path.string()), profile);
  CHECK(r.makespan_ns > 0);
  CHECK(zo2::sim::to_ns(1.5) == 1500000000);
  CHECK_THROWS_AS(zo2::sim::to_ns(1e10), std::invalid_argument);
}

TEST_CASE("a short sweep spec whose grids expand past the limit is refused at once, not expanded for hours") {
  const std::filesystem::path path = std::filesystem::path(ZO2_FUZZ_DATA_DIR) / "sweep_grid_expands_for_hours.json";
  CHECK_THROWS_AS(zo2::sim::load_sweep_spec(path), std::invalid_argument);
  CHECK_THROWS_WITH(zo2::sim::load_sweep_spec(path),
                    ContainsSubstring(path.string()) && ContainsSubstring("more than 100000 policies"));
  // At the limit exactly the grid expands; one more (over two grids) is refused.
  nlohmann::json spec = {{"models", {"opt-125m"}}, {"profiles", {"h100-targets"}}};
  nlohmann::json values = nlohmann::json::array();
  for (int i = 1; i <= 100; ++i) values.push_back(i);
  spec["policies"] = {{{"prefetch", values}, {"writeback", values}}};
  spec["policies"][0]["slots"] = nlohmann::json::array({"reuse", "reuse", "reuse", "reuse", "reuse", "reuse", "reuse",
                                                        "reuse", "reuse", "reuse"});
  CHECK(zo2::sim::parse_sweep_spec(spec, "s.json").policies.size() == zo2::sim::kMaxSpecPolicies);
  spec["policies"].push_back({{"prefetch", 0}});
  CHECK_THROWS_WITH(zo2::sim::parse_sweep_spec(spec, "s.json"), ContainsSubstring("s.json: policies[1]"));
}
