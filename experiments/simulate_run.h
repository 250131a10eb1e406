// One `zo2 simulate` run as a library call, shared by the command and the Python module (zo2.simulate): the
// arguments, the simulation of a write-back cycle (or of a plan file), and the JSON that --format json prints.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/policy.h"
#include "simulator/metrics.h"
#include "simulator/profile.h"
#include "simulator/simulator.h"

namespace zo2::cli {

struct SimulateArgs {
  std::string model = "opt-1.3b", profile = "h100-targets", format = "table", trace, out, plan;
  int64_t batch = 1, seq = 2048, layers = 0, first_step = 0, steps = 0;
  bool pageable = false;
  PolicyOptions policy;
};

struct Simulation {
  SimulateArgs args;  // as run: the model named with its --layers, a plan's own batch and seq
  sim::HardwareProfile profile;
  sim::CycleResult cycle;
  std::vector<sim::Metric> metrics;
};

// Loads the profile and the model (or the plan file), simulates, and computes the metrics. Errors name the flag or
// file (std::invalid_argument for a bad value).
Simulation simulate_run(SimulateArgs args);
// The object `zo2 simulate --format json` prints: every metric, the run's fields, the policy, the cycle's step
// times and the memory terms.
nlohmann::json simulation_json(const Simulation& s);

}  // namespace zo2::cli
