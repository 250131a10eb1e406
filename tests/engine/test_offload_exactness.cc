// Offloaded against resident on the CPU reference executor: with fp32 everywhere, every policy (prefetch, reuse or
// alloc, overlap, writeback K, which blocks are offloaded, prefetch-next) must give bitwise the resident run's losses
// and parameters (OPT and LLaMA shapes); an edited plan changes the executed order; a removed dependency is caught.
#include "catch_aten.h"

#include <ATen/ATen.h>

#include <algorithm>

#include <catch2/generators/catch_generators.hpp>
#include <catch2/generators/catch_generators_range.hpp>

#include <fmt/format.h>

#include "core/plan.h"
#include "engine/cuda_glue.h"
#include "engine/zo_engine.h"
#include "test_util.h"
#include "train_runs.h"
#include "tests/policy_for_tests.h"

using namespace zo2;

namespace {

using test::Run;
using test::train;

OptModel make_start(const ModelShape& shape, uint64_t seed, DType dtype = DType::f32) {
  at::manual_seed(seed);
  OptModel m = OptModel::allocate(shape, dtype, at::kCPU);
  m.init_random(seed);
  for (ParamSlab* slab : m.slabs())
    for (auto& v : slab->views) v.add_(at::randn_like(v), 0.05);
  return m;
}

// fp32 everywhere: the policies differ only in scheduling, so results must be bitwise equal.
Policy policy_of(const ModelShape& shape, const std::string& offload, int64_t prefetch, const std::string& slots,
                 const std::string& overlap, int64_t writeback, bool prefetch_next = false, bool fold_update = true,
                 const std::string& dtype = "fp32") {
  Policy p = testing::policy(offload, prefetch, writeback, shape.layers, dtype, "", "", slots, overlap);
  p.prefetch_next = prefetch_next;
  p.fold_update = fold_update;
  p.validate();
  return p;
}

bool bitwise_equal(const Run& a, const Run& b) { return test::bitwise_equal(a, b); }

struct Setup {
  uint64_t seed;
  ModelShape shape;
  OptModel start;
  std::vector<at::Tensor> batches;
};

Setup make_setup(int min_layers, DType dtype = DType::f32, const std::string& family = "opt") {
  const uint64_t seed = test::fresh_seed();
  std::mt19937_64 rng(seed);
  ModelShape shape = test::random_small_shape(rng, family);
  shape.layers = min_layers + int64_t(rng() % 2);
  OptModel start = make_start(shape, seed, dtype);
  std::vector<at::Tensor> batches;
  for (int s = 0; s < 5; ++s) batches.push_back(at::randint(shape.vocab_size, {2, 12}, at::kLong));
  return {seed, shape, std::move(start), std::move(batches)};
}

}  // namespace

TEST_CASE("every offloaded policy is bitwise the resident run (fp32, CPU reference executor)") {
  const std::string family = GENERATE(from_range(test::test_families()));
  Setup s = make_setup(4, DType::f32, family);
  INFO(family << " seed " << s.seed << " layers " << s.shape.layers);
  std::mt19937_64 rng(s.seed);
  const Run resident = train(s.start, policy_of(s.shape, "none", 1, "reuse", "on", 1), at::kCPU,
                             make_cpu_executor(rng(), 100), s.batches, s.seed);
  struct Case {
    std::string offload;
    int64_t prefetch;
    std::string slots, overlap;
    int64_t writeback;
    bool prefetch_next = false;
    bool fold_update = true;
  };
  std::vector<Case> cases{{"all", 1, "reuse", "on", 1},   // the peer's schedule
                          {"all", 0, "reuse", "on", 1},   {"all", 2, "alloc", "on", 1},
                          {"all", 1, "reuse", "off", 1},  {"all", 1, "reuse", "on", 2},
                          {"all", 2, "reuse", "on", 3},   {"1-2", 1, "reuse", "on", 2},
                          {"0,3", 0, "alloc", "on", 1},
                          // --prefetch-next: every prefetch depth (3: every block carried over on 4 layers), every
                          // write-back interval up to 4, and partial offload.
                          {"all", 0, "reuse", "on", 1, true}, {"all", 1, "reuse", "on", 2, true},
                          {"all", 2, "reuse", "on", 3, true}, {"all", 3, "reuse", "on", 4, true},
                          {"1-2", 1, "reuse", "on", 2, true}, {"0,2-3", 2, "reuse", "on", 1, true},
                          {"0,3", 0, "reuse", "on", 4, true}};
  // Plus a few drawn at random each run.
  for (int i = 0; i < 4; ++i) {
    Case c{"all", int64_t(rng() % 4), rng() % 2 ? "reuse" : "alloc", rng() % 4 ? "on" : "off", int64_t(1 + rng() % 4)};
    c.prefetch_next = c.slots == "reuse" && c.overlap == "on" && rng() % 2;
    cases.push_back(c);
  }
  // --fold-update off (ZO2's order everywhere), resident, partly and wholly offloaded.
  cases.push_back({"none", 1, "reuse", "on", 1, false, false});
  cases.push_back({"1-2", 1, "reuse", "on", 2, true, false});
  cases.push_back({"all", 1, "reuse", "on", 1, false, false});
  for (const auto& c : cases) {
    INFO("offload " << c.offload << " prefetch " << c.prefetch << " slots " << c.slots << " overlap " << c.overlap
                    << " writeback " << c.writeback << " prefetch-next " << c.prefetch_next << " fold-update "
                    << c.fold_update);
    const Policy p =
        policy_of(s.shape, c.offload, c.prefetch, c.slots, c.overlap, c.writeback, c.prefetch_next, c.fold_update);
    const Run off = train(s.start, p, at::kCPU, make_cpu_executor(rng(), 100), s.batches, s.seed);
    CHECK(bitwise_equal(off, resident));
  }
  // A flush between steps (as for a checkpoint) leaves the slots to the flush: the next step uploads its own first
  // blocks again.
  const Run resident_flushed = train(s.start, policy_of(s.shape, "none", 1, "reuse", "on", 1), at::kCPU,
                                     make_cpu_executor(rng(), 100), s.batches, s.seed, {}, 2);
  for (int64_t k : {1, 3}) {
    INFO("flush after step 2, prefetch-next, writeback " << k);
    const Run off = train(s.start, policy_of(s.shape, "all", 1, "reuse", "on", k, true), at::kCPU,
                          make_cpu_executor(rng(), 100), s.batches, s.seed, {}, 2);
    CHECK(bitwise_equal(off, resident_flushed));
  }
}

// The folded restore stores what the restore and the next step's pending update would (core/zo_math.h), in every
// format: the whole run, losses and final weights, is bitwise ZO2's order.
void check_fold_is_bitwise_zo2_order(c10::Device device, std::unique_ptr<Executor> (*executor)()) {
  for (const std::string& family : test::test_families()) {
    for (DType dt : {DType::f32, DType::f16, DType::bf16}) {
      Setup s = make_setup(3, dt, family);
      const std::string name(dtype_name(dt));
      INFO(family << " seed " << s.seed << " dtype " << name);
      for (const char* offload : {"none", "0,2"}) {
        INFO("offload " << offload);
        const Run zo2 = train(s.start, policy_of(s.shape, offload, 1, "reuse", "on", 1, false, false, name), device,
                              executor(), s.batches, s.seed);
        const Run folded = train(s.start, policy_of(s.shape, offload, 1, "reuse", "on", 1, false, true, name), device,
                                 executor(), s.batches, s.seed);
        CHECK(bitwise_equal(folded, zo2));
        CHECK(folded.steps.back().loss_plus != folded.steps.front().loss_plus);  // the steps trained something
      }
    }
  }
}

TEST_CASE("with --fold-update a run is bitwise ZO2's order in fp32, fp16 and bf16 (CPU)") {
  check_fold_is_bitwise_zo2_order(at::kCPU, [] { return make_cpu_executor(7, 20); });
}

TEST_CASE("with --fold-update a run is bitwise ZO2's order in fp32, fp16 and bf16 (GPU)") {
  if (!cuda_available()) SKIP("no GPU on this machine");
  check_fold_is_bitwise_zo2_order(at::kCUDA, [] { return make_cuda_executor(); });
}

TEST_CASE("offloaded is bitwise resident on the GPU too") {
  if (!cuda_available()) SKIP("no GPU on this machine");
  const std::string family = GENERATE(from_range(test::test_families()));
  Setup s = make_setup(4, DType::f32, family);
  INFO(family << " seed " << s.seed);
  const Run resident = train(s.start, policy_of(s.shape, "none", 1, "reuse", "on", 1), at::kCUDA, make_cuda_executor(),
                             s.batches, s.seed);
  for (int64_t k : {1, 3})
    for (const char* slots : {"reuse", "alloc"}) {
      INFO("writeback " << k << " slots " << slots);
      const Run off = train(s.start, policy_of(s.shape, "all", 1, slots, "on", k), at::kCUDA, make_cuda_executor(),
                            s.batches, s.seed);
      CHECK(bitwise_equal(off, resident));
    }
  // --prefetch-next: the next step's ops wait for the last step's events.
  for (int64_t k : {1, 3})
    for (int64_t d : {1, 2}) {
      INFO("prefetch-next, prefetch " << d << " writeback " << k);
      const Run off = train(s.start, policy_of(s.shape, "all", d, "reuse", "on", k, true), at::kCUDA,
                            make_cuda_executor(), s.batches, s.seed);
      CHECK(bitwise_equal(off, resident));
    }
}

TEST_CASE("an edited plan changes the executed order, and the executor follows it") {
  Setup s = make_setup(4);
  INFO("seed " << s.seed);
  const Policy p = policy_of(s.shape, "all", 1, "reuse", "on", 1);
  Plan plan = build_plan(s.shape, p, 2, 12, 0);
  const int a = plan.find("h2d/L00"), b = plan.find("h2d/L01");
  REQUIRE(a >= 0);
  REQUIRE(b == a + 1);  // both uploads start the step, one after the other on the h2d queue
  REQUIRE(plan.ops[size_t(b)].deps.empty());
  // Swap them in program order (renumbering the edges that point at them).
  std::swap(plan.ops[size_t(a)], plan.ops[size_t(b)]);
  for (auto& op : plan.ops)
    for (int& d : op.deps) d = d == a ? b : (d == b ? a : d);
  const Run original = train(s.start, p, at::kCPU, make_cpu_executor(1, 0), s.batches, s.seed);
  const Run edited = train(s.start, p, at::kCPU, make_cpu_executor(1, 0), s.batches, s.seed, {plan});
  auto position = [](const Run& r, const Plan& pl, const std::string& name) {
    return std::find(r.started.begin(), r.started.end(), pl.find(name)) - r.started.begin();
  };
  const Plan unedited = build_plan(s.shape, p, 2, 12, 0);
  CHECK(position(original, unedited, "h2d/L00") < position(original, unedited, "h2d/L01"));
  CHECK(position(edited, plan, "h2d/L01") < position(edited, plan, "h2d/L00"));
  CHECK(bitwise_equal(original, edited));  // same data, other order
}

TEST_CASE("a plan missing a slot hand-over dependency is caught by the CPU executor") {
  Setup s = make_setup(4);
  INFO("seed " << s.seed);
  const Policy p = policy_of(s.shape, "all", 0, "reuse", "on", 1);  // 2 slots: L02 reuses L00's slot
  Plan plan = build_plan(s.shape, p, 2, 12, 0);
  const int upload = plan.find("h2d/L02"), release = plan.find("d2h/L00");
  REQUIRE(upload >= 0);
  REQUIRE(release >= 0);
  auto& deps = plan.ops[size_t(upload)].deps;
  REQUIRE(std::find(deps.begin(), deps.end(), release) != deps.end());
  deps.erase(std::remove(deps.begin(), deps.end(), release), deps.end());
  CHECK_THROWS(plan.validate());  // the builder's own check sees it too
  // A slow copy back and an eager upload: without the edge, L02 lands in the slot before L00 leaves it.
  CpuExecutorOptions slow_d2h;
  slow_d2h.schedule_seed = s.seed;
  // Far longer than the compute between, even on a machine loaded by other builds (50 ms once was not).
  slow_d2h.max_delay_us = {0, 0, 500000, 0, 0};
  slow_d2h.min_delay_us = {0, 0, 400000, 0, 0};
  const Run resident = train(s.start, policy_of(s.shape, "none", 1, "reuse", "on", 1), at::kCPU,
                             make_cpu_executor(1, 0), s.batches, s.seed);
  const Run broken = train(s.start, p, at::kCPU, make_cpu_executor(slow_d2h), s.batches, s.seed, {plan});
  CHECK_FALSE(bitwise_equal(broken, resident));
}

TEST_CASE("an early upload missing its slot hand-over is caught by the CPU executor (--prefetch-next)") {
  Setup s = make_setup(4);
  INFO("seed " << s.seed << " layers " << s.shape.layers);
  // 2 slots: the next step's block 0 lands in the slot of this step's block n-2, after that block's copy back.
  const Policy p = policy_of(s.shape, "all", 0, "reuse", "on", 1, true);
  const int64_t n = s.shape.layers;
  std::vector<Plan> plans = build_plan_sequence(s.shape, p, 2, 12, 0, int64_t(s.batches.size()));
  const std::string release = fmt::format("d2h/L{:02d}", n - 2);
  for (size_t k = 0; k < plans.size(); ++k) {
    Plan& plan = plans[k];
    const int upload = plan.find("h2d/next/L00"), d2h = plan.find(release);
    REQUIRE(upload >= 0);
    REQUIRE(plan.ops[size_t(upload)].slot == plan.ops[size_t(d2h)].slot);
    auto& deps = plan.ops[size_t(upload)].deps;
    REQUIRE(std::find(deps.begin(), deps.end(), d2h) != deps.end());
    deps.erase(std::remove(deps.begin(), deps.end(), d2h), deps.end());
    CHECK_THROWS(plan.validate(k > 0 ? &plans[k - 1] : nullptr));  // the builder's own check sees it too
  }
  // A slow copy back: without the edge, block 0 lands in the slot before block n-2 is copied back from it.
  CpuExecutorOptions slow_d2h;
  slow_d2h.schedule_seed = s.seed;
  slow_d2h.max_delay_us = {0, 0, 500000, 0, 0};
  slow_d2h.min_delay_us = {0, 0, 400000, 0, 0};
  const Run resident = train(s.start, policy_of(s.shape, "none", 1, "reuse", "on", 1), at::kCPU,
                             make_cpu_executor(1, 0), s.batches, s.seed);
  const Run intact = train(s.start, p, at::kCPU, make_cpu_executor(slow_d2h), s.batches, s.seed,
                           build_plan_sequence(s.shape, p, 2, 12, 0, int64_t(s.batches.size())));
  CHECK(bitwise_equal(intact, resident));
  const Run broken = train(s.start, p, at::kCPU, make_cpu_executor(slow_d2h), s.batches, s.seed, plans);
  CHECK_FALSE(bitwise_equal(broken, resident));
}
