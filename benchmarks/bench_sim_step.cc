// Simulator speed: one OPT-175B step (target < 1 ms) and 10,000 policies on OPT-13B (target < 10 s on 2 cores).
#include <benchmark/benchmark.h>

#include "core/model_shape.h"
#include "simulator/search.h"
#include "simulator/simulator.h"

namespace {

const zo2::sim::HardwareProfile& profile() {
  static const zo2::sim::HardwareProfile p = zo2::sim::load_profile("h100-targets");
  return p;
}

zo2::Policy make(const std::string& offload, int64_t prefetch, int64_t writeback, int64_t layers) {
  zo2::PolicyOptions o;
  o.offload = offload;
  o.prefetch = prefetch;
  o.writeback = writeback;
  return zo2::resolve_policy(o, layers);
}

// Build the plan and simulate it: what one evaluation of a policy costs (writeback 1: one step per cycle).
void BM_Opt175bStep(benchmark::State& state) {
  const zo2::ModelShape shape = zo2::model_preset("opt-175b");
  const zo2::Policy policy = make("all", 1, 1, shape.layers);
  for (auto _ : state) {
    const zo2::Plan plan = zo2::build_plan(shape, policy, 1, 2048);
    benchmark::DoNotOptimize(zo2::sim::simulate(plan, profile()).makespan_ns);
  }
  state.counters["ops"] = double(zo2::build_plan(shape, policy, 1, 2048).ops.size());
}
BENCHMARK(BM_Opt175bStep)->Unit(benchmark::kMicrosecond);

// Simulating a prebuilt plan only: the event loop's own rate.
void BM_Opt175bSimulateOnly(benchmark::State& state) {
  const zo2::ModelShape shape = zo2::model_preset("opt-175b");
  const zo2::Plan plan = zo2::build_plan(shape, make("all", 1, 1, shape.layers), 1, 2048);
  for (auto _ : state) benchmark::DoNotOptimize(zo2::sim::simulate(plan, profile()).makespan_ns);
  state.SetItemsProcessed(int64_t(state.iterations()) * int64_t(plan.ops.size()));
}
BENCHMARK(BM_Opt175bSimulateOnly)->Unit(benchmark::kMicrosecond);

// 10,000 distinct policies (resident first/last N of 40, prefetch 0-4, writeback 1/2/4/8/16, slots, overlap, and
// wire formats), each a full write-back cycle, as the sweep's search runs them.
void BM_TenThousandPolicies(benchmark::State& state) {
  const zo2::ModelShape shape = zo2::model_preset("opt-13b");
  zo2::sim::SearchSpace space;
  space.grid.prefetch = {0, 1, 2, 3, 4};
  space.grid.writeback = {1, 2, 4, 8, 16};
  space.grid.slots = {"reuse", "alloc"};
  space.grid.overlap = {"on", "off"};
  space.grid.wire = {"", "fp32", "fp8"};
  space.grid.master = {"", "fp32"};
  std::vector<zo2::Policy> policies = zo2::sim::enumerate_policies(space, shape.layers);
  policies.resize(std::min<size_t>(policies.size(), 10000));
  int64_t steps = 0;
  for (auto _ : state) {
    steps = 0;
    for (const auto& p : policies) {
      const auto c = zo2::sim::simulate_cycle(shape, p, 1, 2048, profile());
      steps += c.cycle_steps();
      benchmark::DoNotOptimize(c.mean_step_seconds());
    }
  }
  state.counters["policies"] = double(policies.size());
  state.counters["steps"] = double(steps);
}
BENCHMARK(BM_TenThousandPolicies)->Unit(benchmark::kSecond)->Iterations(1);

}  // namespace

BENCHMARK_MAIN();
