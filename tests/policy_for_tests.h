// A resolved policy for the tests of every library (core, simulator, engine): positional streaming knobs, or any knob
// of the table by its JSON key (policy_with), so a new knob needs no new helper.
#pragma once
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "core/policy.h"

namespace zo2::testing {

// {"fold_update": "off", "host_threads": 2, ...} over the defaults, checked as a sweep spec's policy is.
inline Policy policy_with(int64_t layers, const nlohmann::json& knobs) {
  return resolve_policy(policy_options_from_json(knobs, "test policy"), layers);
}

inline Policy policy(const std::string& offload, int64_t prefetch, int64_t writeback, int64_t layers,
                     const std::string& dtype = "fp16", const std::string& wire = "", const std::string& master = "",
                     const std::string& slots = "reuse", const std::string& overlap = "on",
                     const nlohmann::json& more = nlohmann::json::object()) {
  nlohmann::json j = more;
  j["offload"] = offload;
  j["prefetch"] = prefetch;
  j["writeback"] = writeback;
  j["dtype"] = dtype;
  j["wire"] = wire;
  j["master"] = master;
  j["slots"] = slots;
  j["overlap"] = overlap;
  return policy_with(layers, j);
}

}  // namespace zo2::testing
