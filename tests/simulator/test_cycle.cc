// The write-back cycle's fast path (steps computed from their replay counts) against simulating every step.
#include <chrono>
#include <random>
#include <tuple>

#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>
#include <fmt/format.h>

#include "core/model_shape.h"
#include "simulator/metrics.h"
#include "simulator/simulator.h"
#include "tests/simulator/sim_test_util.h"

using namespace zo2;
using namespace zo2::sim;
using namespace zo2::sim::testing;

namespace {

// The cycle as zo2 simulated it before the fast path, written out plainly: every plan of the cycle built and
// simulated, with --prefetch-next as one chain from step 0 (steps from `first` of a chain, or K..2K-1).
CycleResult every_step(const ModelShape& shape, const Policy& p, int64_t batch, int64_t seq,
                       const HardwareProfile& prof, bool pageable_copies, int64_t first_step = -1, int64_t count = 0) {
  const int64_t K = p.gpu_writes_back() && p.offloaded_count() > 0 ? p.writeback : 1;
  const bool chain = p.prefetch_next && p.offloaded_count() > 0;
  const int64_t steps = count > 0 ? count : K;
  const int64_t first = first_step >= 0 ? first_step : chain ? std::max<int64_t>(1, (16 + K - 1) / K) * K : K;
  CycleResult c;
  std::vector<Plan> plans;
  if (chain) plans = build_plan_sequence(shape, p, batch, seq, 0, first + steps);
  else
    for (int64_t s = first; s < first + steps; ++s) plans.push_back(build_plan(shape, p, batch, seq, s));
  for (auto& plan : plans)
    for (auto& op : plan.ops) op.pinned = !pageable_copies;
  std::vector<SimResult> results;
  if (chain) results = simulate_chain(plans, prof);
  else
    for (const auto& plan : plans) results.push_back(simulate(plan, prof));
  const size_t skip = chain ? size_t(first) : 0;
  for (size_t i = skip; i < plans.size(); ++i) {
    c.plans.push_back(plans[i]);
    c.steps.push_back(results[i]);
    c.position.push_back(int64_t(i - skip));
  }
  c.length = steps;
  return c;
}

struct StepRow {
  TimeNs makespan, gpu, h2d_busy, d2h_busy, both, host, pool;
  int64_t h2d, d2h, peak_gpu, peak_host, predicted;
  auto tie() const { return std::tie(makespan, gpu, h2d_busy, d2h_busy, both, host, pool, h2d, d2h, peak_gpu, peak_host,
                                     predicted); }
  bool operator==(const StepRow& o) const { return tie() == o.tie(); }
};

std::vector<StepRow> rows(const CycleResult& c) {
  std::vector<StepRow> out;
  c.for_each_step([&](const SimResult& r, const Plan& plan) {
    out.push_back({r.makespan_ns, r.gpu_busy_ns, r.h2d_busy_ns, r.d2h_busy_ns, r.link_both_busy_ns, r.host_busy_ns,
                   r.host_update_busy_ns, r.h2d_bytes, r.d2h_bytes, r.peak_gpu_bytes, r.peak_host_bytes,
                   plan.memory.gpu_total()});
  });
  return out;
}

void check_same(const CycleResult& fast, const CycleResult& full, const HardwareProfile& prof) {
  REQUIRE(fast.cycle_steps() == full.cycle_steps());
  const auto a = rows(fast), b = rows(full);
  REQUIRE(a.size() == b.size());
  for (size_t t = 0; t < a.size(); ++t) {
    INFO("cycle step " << t);
    CHECK(a[t] == b[t]);
  }
  const auto ma = cycle_metrics(fast, prof), mb = cycle_metrics(full, prof);
  REQUIRE(ma.size() == mb.size());
  for (size_t i = 0; i < ma.size(); ++i) {
    INFO(ma[i].name);
    CHECK(ma[i].value == mb[i].value);  // bitwise: the same sums in the same order
    CHECK(ma[i].min == mb[i].min);
    CHECK(ma[i].median == mb[i].median);
    CHECK(ma[i].max == mb[i].max);
  }
}

}  // namespace

TEST_CASE("the write-back cycle's fast path equals simulating every step, bitwise", "[cycle]") {
  const uint64_t seed = std::random_device{}();
  std::mt19937_64 rng(seed);
  INFO("seed " << seed);
  auto pick = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  HardwareProfile launch = flat_profile();
  launch.launch_overhead_seconds = 3e-6;
  launch.host_sync_seconds = 20e-6;
  const HardwareProfile profiles[] = {flat_profile(), launch, load_profile("h200-measured"),
                                      load_profile("h100-targets")};
  int closed = 0;
  for (int draw = 0; draw < 120; ++draw) {
    const int64_t layers = pick(2, 10);
    const ModelShape shape = draw % 4 == 3 ? model_preset("opt-125m") : small_shape(layers);
    const int64_t L = shape.layers;
    std::string offload = "all";
    if (pick(0, 2) == 0) {  // a random subset, often with resident ends
      const int64_t a = pick(0, L - 1), b = pick(a, L - 1);
      offload = a == b ? fmt::format("{}", a) : fmt::format("{}-{}", a, b);
    }
    const int64_t K = pick(1, 3) == 1 ? pick(1, 6) : pick(L + 2, L + 40);
    Policy p = policy(offload, pick(0, 3), K, L, "fp16", pick(0, 3) == 0 ? "fp32" : "", "",
                      pick(0, 3) == 0 ? "alloc" : "reuse", pick(0, 3) == 0 ? "off" : "on");
    p.prefetch_next = p.overlap && p.slots == SlotMode::reuse && pick(0, 2) == 0;  // what the knob needs
    p.fold_update = pick(0, 1) == 0;
    const HardwareProfile& prof = profiles[size_t(pick(0, 3))];
    const bool pageable_copies = pick(0, 5) == 0;
    const int64_t seq = shape.layers == 12 ? 128 : pick(16, 256);
    INFO(fmt::format("draw {}: layers {}, offload {}, K {}, prefetch {}, slots {}, overlap {}, wire {}, "
                     "prefetch-next {}, fold {}, profile {}, seq {}, pageable {}",
                     draw, L, offload, K, p.prefetch, slot_mode_name(p.slots), p.overlap, dtype_name(p.wire),
                     p.prefetch_next, p.fold_update, prof.name, seq, pageable_copies));
    CycleOptions o;
    o.pageable = pageable_copies;
    const CycleResult fast = simulate_cycle(shape, p, 1, seq, prof, o);
    closed += fast.closed.has_value();
    check_same(fast, every_step(shape, p, 1, seq, prof, pageable_copies), prof);
  }
  // The draws reach the computed steps (a cycle longer than its blocks' copies back), not only the simulated ones.
  CHECK(closed >= 20);
}

TEST_CASE("a window of steps (--first-step, --steps) gives the steps of the whole chain", "[cycle]") {
  const uint64_t seed = std::random_device{}();
  std::mt19937_64 rng(seed);
  INFO("seed " << seed);
  auto pick = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  const HardwareProfile prof = load_profile("h200-measured");
  for (int draw = 0; draw < 12; ++draw) {
    const int64_t L = pick(3, 8);
    Policy p = policy("all", pick(0, 2), pick(1, 6), L);
    p.prefetch_next = pick(0, 1) == 0;
    CycleOptions o;
    o.first_step = pick(0, 20);
    o.step_count = pick(1, 8);
    INFO(fmt::format("layers {}, K {}, prefetch-next {}, steps {} from {}", L, p.writeback, p.prefetch_next,
                     o.step_count, o.first_step));
    check_same(simulate_cycle(small_shape(L), p, 1, 128, prof, o),
               every_step(small_shape(L), p, 1, 128, prof, false, o.first_step, o.step_count), prof);
  }
}

TEST_CASE("a huge --writeback answers fast; beyond the bound it is refused by name", "[cycle]") {
  const ModelShape shape = model_preset("opt-175b");
  const HardwareProfile prof = load_profile("h100-targets");
  const auto t0 = std::chrono::steady_clock::now();
  const CycleResult c = simulate_cycle(shape, policy("all", 1, 1'000'000, shape.layers), 1, 2048, prof);
  const auto metrics = cycle_metrics(c, prof);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  INFO("K = 1e6 took " << seconds << " s");
  CHECK(seconds < 10);
  REQUIRE(c.cycle_steps() == 1'000'000);
  REQUIRE(c.closed.has_value());
  CHECK(c.steps.size() < 1000);  // the copies back and the first steps only
  // A block replays t + l updates: the slowest step replays about K updates per block, the mean about K / 2.
  const Metric* step = find_metric(metrics, "step_seconds");
  CHECK(step->min <= step->median);
  CHECK(step->median <= step->max);
  CHECK(step->value > 0.4 * step->max);
  CHECK(step->value < 0.6 * step->max);
  CHECK_THROWS_WITH(simulate_cycle(shape, policy("all", 1, kMaxCycleSteps + 1, shape.layers), 1, 2048, prof),
                    Catch::Matchers::StartsWith(fmt::format("--writeback {}:", kMaxCycleSteps + 1)) &&
                        Catch::Matchers::ContainsSubstring(fmt::format("<= {}", kMaxCycleSteps)));
  CycleOptions o;
  o.step_count = kMaxEventSteps + 1;
  CHECK_THROWS_WITH(simulate_cycle(shape, policy("all", 1, 4, shape.layers), 1, 2048, prof, o),
                    Catch::Matchers::StartsWith(fmt::format("--steps {}:", kMaxEventSteps + 1)));
}
