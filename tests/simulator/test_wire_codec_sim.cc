// --wire-codec lossless in the simulator: the link carries the expected coded bytes up and the staging buffer back,
// dec/enc ops cost the block's raw bytes at the profile's codec rates, and a profile without those rates is refused
// naming the field.
#include <random>

#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_floating_point.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include "core/plan.h"
#include "core/slab_layout.h"
#include "core/wire_codec.h"
#include "sim_test_util.h"
#include "simulator/cost_model.h"
#include "simulator/simulator.h"

using namespace zo2;
using Catch::Matchers::ContainsSubstring;
using Catch::Matchers::WithinRel;

TEST_CASE("a lossless plan moves the coded bytes up and the staging buffer back, and prices dec/enc at the codec "
          "rates", "[wire_codec]") {
  const auto seed = std::random_device{}();
  INFO("seed " << seed);
  std::mt19937 rng(seed);
  sim::HardwareProfile profile = sim::testing::flat_profile();
  profile.codec_decode_bytes_per_second = 5e11 + 1e11 * double(rng() % 5);
  profile.codec_encode_bytes_per_second = 2e11 + 1e11 * double(rng() % 3);
  profile.launch_overhead_seconds = 3e-6;
  const ModelShape shape = model_preset(rng() % 2 ? "opt-1.3b" : "llama-2-7b");
  for (DType dt : {DType::bf16, DType::f16}) {
    const std::string name(dtype_name(dt));
    const int64_t k = 1 + int64_t(rng() % 3), step = int64_t(rng() % 5);
    INFO(shape.family << " " << name << " writeback " << k << " step " << step);
    const Policy raw_policy = testing::policy("all", 1, k, shape.layers, name);
    const Policy coded_policy =
        testing::policy("all", 1, k, shape.layers, name, "", "", "reuse", "on", {{"wire_codec", "lossless"}});
    const Plan raw = build_plan(shape, raw_policy, 1, 512, step);
    const Plan coded = build_plan(shape, coded_policy, 1, 512, step);
    const sim::SimResult r = sim::simulate(raw, profile), c = sim::simulate(coded, profile);
    // Independent of the plan's own fields: the ratio `zo2 codec-ratio` measured, the codec's size bound.
    const double ratio = dt == DType::bf16 ? 0.6664 : 0.8474;
    const int64_t n = block_layout(shape, 0, dt).elements;
    int64_t downloads = 0;
    for (const Op& op : raw.ops) downloads += op.kind == OpKind::download;
    REQUIRE(downloads > 0);
    CHECK(r.h2d_bytes == shape.layers * 2 * n);
    CHECK(c.h2d_bytes == shape.layers * int64_t(std::llround(ratio * double(2 * n))));
    CHECK(r.d2h_bytes == downloads * 2 * n);
    CHECK(c.d2h_bytes == downloads * wire_codec_max_bytes(n));
    // Each dec/enc op: raw bytes at its rate, plus its launches.
    const sim::CostModel cost(profile, coded);
    int decodes = 0, encodes = 0;
    for (const Op& op : coded.ops) {
      if (op.kind == OpKind::decode) {
        ++decodes;
        CHECK_THAT(cost.seconds(op), WithinRel(2.0 * double(n) / profile.codec_decode_bytes_per_second + 3e-6, 1e-12));
      }
      if (op.kind == OpKind::encode) {
        ++encodes;
        CHECK_THAT(cost.seconds(op),
                   WithinRel(2.0 * double(n) / profile.codec_encode_bytes_per_second + 3 * 3e-6, 1e-12));
      }
    }
    CHECK(decodes == shape.layers);
    CHECK(encodes == downloads);
    CHECK(c.makespan_ns > 0);
  }
}

TEST_CASE("a lossless plan on a profile without the codec rates is refused naming the field; a plan with nothing "
          "offloaded needs none", "[wire_codec]") {
  const ModelShape shape = model_preset("opt-1.3b");
  sim::HardwareProfile profile = sim::testing::flat_profile();
  const Policy offloaded =
      testing::policy("all", 1, 1, shape.layers, "bf16", "", "", "reuse", "on", {{"wire_codec", "lossless"}});
  const Plan plan = build_plan(shape, offloaded, 1, 512);
  CHECK_THROWS_WITH(sim::simulate(plan, profile), ContainsSubstring("codec_decode_bytes_per_second") &&
                                                      ContainsSubstring("zo2 calibrate measures it"));
  profile.codec_decode_bytes_per_second = 7e11;  // decode alone is not enough: the copies back are encoded
  CHECK_THROWS_WITH(sim::simulate(plan, profile), ContainsSubstring("codec_encode_bytes_per_second"));
  profile.codec_encode_bytes_per_second = 3e11;
  CHECK_NOTHROW(sim::simulate(plan, profile));
  const Policy resident =
      testing::policy("none", 1, 1, shape.layers, "bf16", "", "", "reuse", "on", {{"wire_codec", "lossless"}});
  CHECK_NOTHROW(sim::simulate(build_plan(shape, resident, 1, 512), sim::testing::flat_profile()));
}

TEST_CASE("a lossless wire codec (--wire-codec lossless) is refused where it cannot apply, naming the flag", "[wire_codec]") {
  const int64_t layers = 4;
  for (const char* wire : {"fp32", "fp8"}) {
    INFO("wire " << wire);
    CHECK_THROWS_WITH(
        testing::policy("all", 1, 1, layers, "fp32", wire, "fp32", "reuse", "on", {{"wire_codec", "lossless"}}),
        ContainsSubstring("--wire-codec lossless") && ContainsSubstring("bf16 or fp16"));
  }
  // A 16-bit wire below an fp32 master: the host would have to re-encode after each of its updates.
  CHECK_THROWS_WITH(
      testing::policy("all", 1, 1, layers, "bf16", "bf16", "fp32", "reuse", "on", {{"wire_codec", "lossless"}}),
      ContainsSubstring("--wire-codec lossless") && ContainsSubstring("--master fp32"));
  CHECK_THROWS_WITH(testing::policy("all", 1, 1, layers, "bf16", "", "", "reuse", "on", {{"wire_codec", "zstd"}}),
                    ContainsSubstring("--wire-codec") && ContainsSubstring("raw or lossless"));
  // Nothing offloaded: accepted, and the plan is the raw one.
  const Policy none =
      testing::policy("none", 1, 1, layers, "fp16", "", "", "reuse", "on", {{"wire_codec", "lossless"}});
  CHECK(none.wire_codec == WireCodec::lossless);
}
