// The profile schema has one reader and one writer (simulator/profile.h): every committed profile read, written and
// read again holds the same fields as the file, and simulates to the same numbers.
#include <filesystem>
#include <random>

#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>
#include <nlohmann/json.hpp>

#include "core/json_file.h"
#include "core/model_shape.h"
#include "core/plan.h"
#include "simulator/cost_model.h"
#include "simulator/metrics.h"
#include "simulator/profile.h"
#include "simulator/simulator.h"
#include "tests/policy_for_tests.h"

using namespace zo2;
using namespace zo2::sim;
using Catch::Matchers::ContainsSubstring;

TEST_CASE("committed profiles: read, write, read gives the file's fields and the same simulation", "[profile]") {
  int count = 0;
  for (const auto& e : std::filesystem::directory_iterator(std::filesystem::path(ZO2_SOURCE_DIR) / "simulator/profiles")) {
    if (e.path().extension() != ".json") continue;
    ++count;
    INFO(e.path().string());
    const nlohmann::json file = read_json_file(e.path());
    const HardwareProfile first = load_profile_file(e.path());
    const nlohmann::json written = profile_to_json(first);
    const HardwareProfile second = parse_profile(written, "written");
    CHECK(profile_to_json(second) == written);
    // Nothing in the file is lost: every field (and every field of every record) comes back with its value.
    for (auto it = file.begin(); it != file.end(); ++it) {
      INFO("field " << it.key());
      REQUIRE(written.contains(it.key()));
      if (it.key() == "block_timings" || it.key() == "model_timings") {
        REQUIRE(written[it.key()].size() == it.value().size());
        for (size_t i = 0; i < it.value().size(); ++i)
          for (auto f = it.value()[i].begin(); f != it.value()[i].end(); ++f) {
            INFO("record " << i << " field " << f.key());
            CHECK(written[it.key()][i][f.key()] == f.value());
          }
      } else {
        CHECK(written[it.key()] == it.value());
      }
    }
    // The same numbers from both reads, on policies that use every part of the profile.
    for (const char* model : {"opt-13b", "llama-2-7b"}) {
      const ModelShape shape = model_preset(model);
      for (const Policy& p : {testing::policy("all", 2, 4, shape.layers), testing::policy("none", 1, 1, shape.layers),
                              testing::policy("all", 1, 1, shape.layers, "fp16", "fp16", "fp32"),
                              testing::policy("0-3", 1, 1, shape.layers, "fp16", "", "", "alloc", "off")}) {
        const auto a = cycle_metrics(simulate_cycle(shape, p, 1, 2048, first), first);
        const auto b = cycle_metrics(simulate_cycle(shape, p, 1, 2048, second), second);
        REQUIRE(a.size() == b.size());
        for (size_t i = 0; i < a.size(); ++i) CHECK(a[i].value == b[i].value);
      }
    }
  }
  CHECK(count >= 7);
}

TEST_CASE("host threads (--host-threads) price the host update at its share of the measured threads", "[profile][knobs]") {
  const auto seed = std::random_device{}();
  INFO("seed " << seed);
  std::mt19937 rng(seed);
  HardwareProfile prof = load_profile("h200-measured");
  REQUIRE(prof.host_update_threads > 0);
  const ModelShape shape = model_preset("opt-1.3b");
  const double T = prof.host_update_threads;
  for (int trial = 0; trial < 5; ++trial) {
    const int64_t n = 1 + int64_t(rng() % uint32_t(2 * T));
    INFO("host threads " << n << " of " << T);
    const Policy p = testing::policy("all", 1, 1, shape.layers, "fp16", "fp16", "fp32", "reuse", "on",
                                     {{"host_threads", n}});
    const Plan plan = build_plan(shape, p, 1, 2048);
    const CostModel cost(prof, plan);
    int updates = 0;
    for (const Op& op : plan.ops) {
      if (op.kind != OpKind::host_update) continue;
      ++updates;
      // The closed form: elements over the measured rate times the share of threads (no more than measured).
      const double expect = double(op.elements) / (prof.host_update_elements_per_second * std::min(double(n), T) / T);
      CHECK(std::abs(cost.seconds(op) - expect) <= 1e-12 * expect);
    }
    CHECK(updates == shape.layers);
  }
  // 0 (the default) is the measured rate; a profile that does not say how many threads it measured refuses N > 0.
  const Policy all = testing::policy("all", 1, 1, shape.layers, "fp16", "fp16", "fp32");
  const Plan plan = build_plan(shape, all, 1, 2048);
  for (const Op& op : plan.ops)
    if (op.kind == OpKind::host_update)
      CHECK(CostModel(prof, plan).seconds(op) == double(op.elements) / prof.host_update_elements_per_second);
  prof.host_update_threads = 0;
  const Policy two = testing::policy("all", 1, 1, shape.layers, "fp16", "fp16", "fp32", "reuse", "on",
                                     {{"host_threads", 2}});
  CHECK_THROWS_WITH(CostModel(prof, build_plan(shape, two, 1, 2048)),
                    ContainsSubstring("--host-threads 2") && ContainsSubstring("host_update_threads"));
  // With the GPU writing back there is no host update: the knob is accepted and changes nothing.
  CHECK_NOTHROW(CostModel(prof, build_plan(shape, testing::policy("all", 1, 1, shape.layers, "fp16", "", "", "reuse",
                                                                  "on", {{"host_threads", 2}}),
                                           1, 2048)));
}
