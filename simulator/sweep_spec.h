// Sweep specs for `zo2 sweep`: the models, profiles, batch and sequence lengths, policy grids and searches to run
// (schema in simulator/README.md).
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/policy.h"
#include "simulator/search.h"

namespace zo2::sim {

struct SweepSpec {
  std::vector<std::string> models, profiles;
  std::vector<int64_t> batch{1}, seq{2048};
  bool pageable = false;
  std::vector<PolicyOptions> policies;  // the policy grids expanded, in order
  std::vector<SearchSpace> searches;    // one per budget
};

// The most policies the grids of one spec may expand to (their cartesian products, summed).
constexpr uint64_t kMaxSpecPolicies = 100000;

// Throws std::invalid_argument naming `where` and the field for a wrong type, an unknown field, an empty list, grids
// beyond kMaxSpecPolicies or a spec that asks for nothing; policy fields are checked by policy_options_from_json.
SweepSpec parse_sweep_spec(const nlohmann::json& j, const std::string& where);
// read_json_file (std::runtime_error for a missing file or invalid JSON), then parse_sweep_spec naming the file.
SweepSpec load_sweep_spec(const std::filesystem::path& path);

}  // namespace zo2::sim
