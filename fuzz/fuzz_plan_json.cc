// libFuzzer target: a plan as `zo2 plan --format json` writes it (possibly edited), read and simulated on a profile
// as `zo2 simulate --plan` does, and its table printed as `zo2 plan` does.
#include <nlohmann/json.hpp>

#include "core/json_file.h"
#include "core/plan_json.h"
#include "fuzz/fuzz_input.h"
#include "simulator/profile.h"
#include "simulator/simulator.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const zo2::sim::HardwareProfile profile = zo2::sim::load_profile("h100-targets");
  return zo2::fuzz::expect_clean([&] {
    const auto plan = zo2::plan_from_json(zo2::parse_json_text(zo2::fuzz::text(data, size), "plan.json"), "plan.json");
    volatile size_t sink = zo2::plan_table(plan).size() + zo2::plan_to_json(plan).dump().size();
    // A plan the simulator cannot finish (ops that wait on each other through queue order) is its documented
    // std::logic_error naming the waiting ops, which `zo2 simulate` prints.
    try {
      sink = sink + static_cast<size_t>(zo2::sim::simulate(plan, profile).makespan_ns);
    } catch (const std::logic_error& e) {
      if (!*e.what()) __builtin_trap();
    }
  });
}
