// zo2 simulate's run and its JSON form, outside the CLI so the Python module calls the same code.
#include "experiments/simulate_run.h"

#include <fmt/format.h>

#include "core/json_file.h"
#include "core/plan_json.h"
#include "experiments/cmd_sim_common.h"

namespace zo2::cli {

Simulation simulate_run(SimulateArgs a) {
  Simulation s;
  s.profile = sim::load_profile(a.profile);
  sim::CycleResult& c = s.cycle;
  if (!a.plan.empty()) {
    // A plan from a file (written by `zo2 plan --format json`, perhaps edited): simulated as it stands.
    c.plans.push_back(plan_from_json(read_json_file(a.plan), a.plan));
    if (a.pageable)
      for (auto& op : c.plans.back().ops) op.pinned = false;
    c.steps.push_back(sim::simulate(c.plans.back(), s.profile));
    c.position.push_back(0);
    c.length = 1;
  } else {
    ModelShape shape = load_model(a.model);
    if (a.layers > 0) {  // the engine's --layers: the first N blocks of the shape
      shape.layers = a.layers;
      a.model += fmt::format(":{}L", a.layers);
    }
    sim::CycleOptions options;
    options.pageable = a.pageable;
    options.first_step = a.first_step;
    options.step_count = a.steps;
    c = sim::simulate_cycle(shape, resolve_policy(a.policy, shape.layers), a.batch, a.seq, s.profile, options);
  }
  if (!a.plan.empty()) {  // report what the plan holds, not the flags it overrides
    a.model = a.plan;
    a.batch = c.plans.front().batch;
    a.seq = c.plans.front().seq;
  }
  s.metrics = sim::cycle_metrics(c, s.profile);
  s.args = a;
  return s;
}

nlohmann::json simulation_json(const Simulation& s) {
  const SimulateArgs& a = s.args;
  const sim::CycleResult& c = s.cycle;
  nlohmann::json j;
  for (const auto& x : s.metrics) j[x.name] = x.value;
  j["model"] = a.model;
  j["profile"] = s.profile.name;
  j["card"] = s.profile.card;
  j["driver"] = s.profile.driver;
  j["batch"] = a.batch;
  j["seq"] = a.seq;
  j["pageable"] = a.pageable;
  j["policy"] = policy_to_json(c.plans.front().policy);
  // Every step's time for cycles that can be read as a list; a longer one is summarized by the metrics alone.
  j["cycle_steps"] = c.cycle_steps();
  if (c.cycle_steps() <= sim::kMaxEventSteps) {
    nlohmann::json steps = nlohmann::json::array();
    c.for_each_step([&](const sim::SimResult& r, const Plan&) { steps.push_back(r.seconds()); });
    j["cycle_step_seconds"] = steps;
  }
  nlohmann::json gpu = nlohmann::json::object(), host = nlohmann::json::object();
  for (const auto& t : c.plans.front().memory.gpu) gpu[t.name] = t.bytes;
  for (const auto& t : c.plans.front().memory.host) host[t.name] = t.bytes;
  j["gpu_memory_terms"] = gpu;
  j["host_memory_terms"] = host;
  return j;
}

}  // namespace zo2::cli
