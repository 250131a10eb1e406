// --wire-codec lossless against raw on the CPU reference executor: offloaded bf16 and fp16 runs of every family give
// bitwise the raw run's losses and final weights (writeback 1 and > 1, prefetch-next, per-upload buffers, one
// queue, a slab edited between steps so that later encodings escape symbols outside the block's table); the plan's
// dec/enc ops and their edges; a decode edge removed is caught.
#include "catch_aten.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <functional>

#include <catch2/generators/catch_generators.hpp>
#include <catch2/generators/catch_generators_range.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <fmt/format.h>

#include "core/plan.h"
#include "core/wire_codec.h"
#include "engine/cuda_glue.h"
#include "engine/zo_engine.h"
#include "test_util.h"
#include "train_runs.h"
#include "tests/policy_for_tests.h"

using namespace zo2;

namespace {

using test::Run;
using test::train;

OptModel make_start(const ModelShape& shape, uint64_t seed, DType dtype) {
  at::manual_seed(seed);
  OptModel m = OptModel::allocate(shape, dtype, at::kCPU);
  m.init_random(seed);
  return m;
}

struct Case {
  std::string offload = "all";
  int64_t prefetch = 1;
  std::string slots = "reuse", overlap = "on";
  int64_t writeback = 1;
  bool prefetch_next = false;
};

Policy policy_of(const ModelShape& shape, const Case& c, DType dt, const std::string& codec) {
  const std::string name(dtype_name(dt));
  return testing::policy(c.offload, c.prefetch, c.writeback, shape.layers, name, "", "", c.slots, c.overlap,
                         {{"prefetch_next", c.prefetch_next ? "on" : "off"}, {"wire_codec", codec}});
}

bool bitwise_equal(const Run& a, const Run& b) { return test::bitwise_equal(a, b); }

struct Setup {
  uint64_t seed;
  ModelShape shape;
  OptModel start;
  std::vector<at::Tensor> batches;
};

Setup make_setup(DType dtype, const std::string& family) {
  const uint64_t seed = test::fresh_seed();
  std::mt19937_64 rng(seed);
  ModelShape shape = test::random_small_shape(rng, family);
  shape.layers = 4;
  OptModel start = make_start(shape, seed, dtype);
  std::vector<at::Tensor> batches;
  for (int s = 0; s < 4; ++s) batches.push_back(at::randint(shape.vocab_size, {2, 10}, at::kLong));
  return {seed, shape, std::move(start), std::move(batches)};
}

// Every value of offloaded block 1 times 8 (its norm weights become 8, its matrices reach past 0.5): exponents the
// block's table (built on its first encoding, N(0, 0.02) weights, ones and zeros) has not seen, so every later
// encoding of it escapes them.
void scale_block_1(OptModel& m) { m.blocks[1].flat.mul_(8); }

}  // namespace

TEST_CASE("a lossless wire codec (--wire-codec lossless) is bitwise raw on the CPU reference executor (bf16, fp16, every family)",
          "[wire_codec]") {
  const std::string family = GENERATE(from_range(test::test_families()));
  for (DType dt : {DType::bf16, DType::f16}) {
    Setup s = make_setup(dt, family);
    INFO(family << " " << dtype_name(dt) << " seed " << s.seed);
    std::mt19937_64 rng(s.seed);
    std::vector<Case> cases{{},                                   // the peer's schedule
                            {"all", 2, "reuse", "on", 3},         // replays of missed steps
                            {"all", 1, "reuse", "on", 2, true},   // the next step decodes what this one uploaded
                            {"all", 0, "alloc", "on", 2},         // staging buffers per upload
                            {"1-2", 1, "reuse", "off", 1},        // one queue, partial offload
                            {"0,3", 2, "reuse", "on", 4, true}};
    for (const auto& c : cases) {
      INFO("offload " << c.offload << " prefetch " << c.prefetch << " slots " << c.slots << " overlap " << c.overlap
                      << " writeback " << c.writeback << " prefetch-next " << c.prefetch_next);
      const Run raw = train(s.start, policy_of(s.shape, c, dt, "raw"), at::kCPU, make_cpu_executor(rng(), 30),
                            s.batches, s.seed);
      const Run coded = train(s.start, policy_of(s.shape, c, dt, "lossless"), at::kCPU, make_cpu_executor(rng(), 30),
                              s.batches, s.seed);
      CHECK(bitwise_equal(coded, raw));
      CHECK(raw.steps.back().loss_plus != raw.steps.front().loss_plus);  // the steps trained something
    }
  }
}

TEST_CASE("a lossless wire codec (--wire-codec lossless): a slab written between steps is trained as written, its new exponents escaped "
          "(CPU reference executor)", "[wire_codec]") {
  const std::string family = GENERATE(from_range(test::test_families()));
  for (DType dt : {DType::bf16, DType::f16}) {
    Setup s = make_setup(dt, family);
    INFO(family << " " << dtype_name(dt) << " seed " << s.seed);
    std::mt19937_64 rng(s.seed);
    // A flush (as for a checkpoint), then a slab written before the next step: the blobs are encoded from the slabs
    // again, with tables that lack the new exponents.
    for (int64_t k : {1, 3}) {
      INFO("flush after step 1, block 1 scaled, writeback " << k);
      const Case c{"all", 1, "reuse", "on", k, k == 1};
      const Run raw = train(s.start, policy_of(s.shape, c, dt, "raw"), at::kCPU, make_cpu_executor(rng(), 30),
                            s.batches, s.seed, {}, 1, scale_block_1);
      const Run coded = train(s.start, policy_of(s.shape, c, dt, "lossless"), at::kCPU, make_cpu_executor(rng(), 30),
                              s.batches, s.seed, {}, 1, scale_block_1);
      for (const auto& step : raw.steps) REQUIRE(std::isfinite(step.loss_plus));  // else no equality can hold
      CHECK(bitwise_equal(coded, raw));
    }
  }
}

TEST_CASE("a lossless wire codec (--wire-codec lossless) is bitwise raw on the GPU", "[wire_codec][cuda]") {
  if (!cuda_available()) SKIP("no GPU on this machine");
  const std::string family = GENERATE(from_range(test::test_families()));
  for (DType dt : {DType::bf16, DType::f16}) {
    Setup s = make_setup(dt, family);
    INFO(family << " " << dtype_name(dt) << " seed " << s.seed);
    for (const Case& c : {Case{}, Case{"all", 2, "reuse", "on", 3}, Case{"all", 1, "reuse", "on", 2, true},
                          Case{"all", 1, "alloc", "on", 1}}) {
      INFO("prefetch " << c.prefetch << " slots " << c.slots << " writeback " << c.writeback << " prefetch-next "
                       << c.prefetch_next);
      const Run raw = train(s.start, policy_of(s.shape, c, dt, "raw"), at::kCUDA, make_cuda_executor(), s.batches,
                            s.seed);
      const Run coded = train(s.start, policy_of(s.shape, c, dt, "lossless"), at::kCUDA, make_cuda_executor(),
                              s.batches, s.seed);
      CHECK(bitwise_equal(coded, raw));
    }
    const Case c{"all", 1, "reuse", "on", 1, true};
    const Run raw = train(s.start, policy_of(s.shape, c, dt, "raw"), at::kCUDA, make_cuda_executor(), s.batches,
                          s.seed, {}, 1, scale_block_1);
    const Run coded = train(s.start, policy_of(s.shape, c, dt, "lossless"), at::kCUDA, make_cuda_executor(), s.batches,
                            s.seed, {}, 1, scale_block_1);
    CHECK(bitwise_equal(coded, raw));
  }
}

TEST_CASE("a lossless plan decodes after each upload and encodes before each copy back, on the compute queue",
          "[wire_codec]") {
  const ModelShape shape = model_preset("opt-125m");
  for (int64_t k : {1, 3}) {
    const Policy p = testing::policy("0-5", 1, k, shape.layers, "bf16", "", "", "reuse", "on",
                                     {{"wire_codec", "lossless"}});
    const Plan raw = build_plan(shape, testing::policy("0-5", 1, k, shape.layers, "bf16"), 1, 128, 2);
    const Plan plan = build_plan(shape, p, 1, 128, 2);
    const int64_t n = wire_codec_block_elements(shape, DType::bf16);
    CHECK(plan.staging_bytes == wire_codec_max_bytes(n));
    CHECK(plan.memory.gpu_term("codec_staging") == plan.slot_count * plan.staging_bytes + plan.codec_scratch_bytes);
    CHECK(plan.memory.gpu_total() == raw.memory.gpu_total() + plan.memory.gpu_term("codec_staging"));
    CHECK(plan.memory.host_total() == raw.memory.host_total() + 6 * plan.staging_bytes);
    for (int64_t l = 0; l < shape.layers; ++l) {
      const std::string tag = fmt::format("L{:02d}", l);
      const int dec = plan.find("dec/" + tag), enc = plan.find("enc/" + tag), up = plan.find("h2d/" + tag),
                d2h = plan.find("d2h/" + tag), zp = plan.find("zo+/" + tag);
      INFO("block " << l << " writeback " << k);
      if (l >= 6) {  // resident: nothing to code
        CHECK(dec < 0);
        CHECK(enc < 0);
        continue;
      }
      REQUIRE(dec >= 0);
      CHECK(plan.ops[size_t(dec)].queue == Queue::compute);
      CHECK(plan.ops[size_t(dec)].deps == std::vector<int>{up});
      CHECK(plan.ops[size_t(up)].link_bytes == int64_t(std::llround(0.6664 * double(raw.wire_block_bytes))));
      const auto& first = plan.ops[size_t(dec + 1)];  // replay or zo+: the block's first op after the decode
      CHECK(first.deps == std::vector<int>{dec});
      CHECK(zp >= dec);
      CHECK((d2h >= 0) == (enc >= 0));
      if (d2h >= 0) {
        CHECK(plan.ops[size_t(enc)].queue == Queue::compute);
        CHECK(plan.ops[size_t(d2h)].deps == std::vector<int>{enc});
        CHECK(plan.ops[size_t(d2h)].link_bytes == plan.staging_bytes);
      }
    }
    plan.validate();
  }
  // Nothing offloaded: a no-op.
  const Policy none = testing::policy("none", 1, 1, shape.layers, "fp16", "", "", "reuse", "on",
                                      {{"wire_codec", "lossless"}});
  const Plan plan = build_plan(shape, none, 1, 128);
  CHECK(plan.staging_bytes == 0);
  CHECK(plan.memory.gpu_term("codec_staging") == 0);
}

TEST_CASE("a lossless plan missing its decode or encode edge is refused, and a copy back before the encode is "
          "caught by the CPU executor", "[wire_codec]") {
  Setup s = make_setup(DType::bf16, "opt");
  INFO("seed " << s.seed);
  const Case c{"all", 1, "reuse", "on", 1};
  const Policy p = policy_of(s.shape, c, DType::bf16, "lossless");
  {
    Plan plan = build_plan(s.shape, p, 2, 10, 0);
    const int dec = plan.find("dec/L02");
    REQUIRE(plan.ops[size_t(dec)].deps == std::vector<int>{plan.find("h2d/L02")});
    plan.ops[size_t(dec)].deps.clear();  // the decode may read the staging buffer before the upload fills it
    CHECK_THROWS_WITH(plan.validate(), Catch::Matchers::ContainsSubstring("does not wait for its block's upload"));
  }
  std::vector<Plan> plans;
  for (int64_t step = 0; step < int64_t(s.batches.size()); ++step) {
    Plan plan = build_plan(s.shape, p, 2, 10, step);
    const int enc = plan.find("enc/L01"), d2h = plan.find("d2h/L01");
    REQUIRE(plan.ops[size_t(d2h)].deps == std::vector<int>{enc});
    plan.ops[size_t(d2h)].deps = {plan.find("zo=/L01")};  // after the restore, but not after the encode
    CHECK_THROWS_WITH(plan.validate(), Catch::Matchers::ContainsSubstring("does not wait for its block's encode"));
    plans.push_back(std::move(plan));
  }
  // A slow compute queue: the copy back overtakes the encode and brings home the blob the upload brought (the block
  // before this step's update), so the next upload trains on stale weights.
  CpuExecutorOptions slow_compute;
  slow_compute.schedule_seed = s.seed;
  slow_compute.min_delay_us = {0, 20000, 0, 0, 0};
  slow_compute.max_delay_us = {0, 30000, 0, 0, 0};
  const Run raw = train(s.start, policy_of(s.shape, c, DType::bf16, "raw"), at::kCPU, make_cpu_executor(1, 0),
                        s.batches, s.seed);
  const Run intact = train(s.start, p, at::kCPU, make_cpu_executor(slow_compute), s.batches, s.seed);
  CHECK(bitwise_equal(intact, raw));
  bool caught = false;
  try {
    caught = !bitwise_equal(train(s.start, p, at::kCPU, make_cpu_executor(slow_compute), s.batches, s.seed, plans), raw);
  } catch (const std::exception& e) {
    INFO(e.what());
    caught = true;
  }
  CHECK(caught);
}
