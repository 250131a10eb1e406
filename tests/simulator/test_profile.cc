// Hardware profiles: the committed ones load, round-trip, and bad files give errors naming the field and the
// expected value.
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_floating_point.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>
#include <nlohmann/json.hpp>

#include "core/json_file.h"
#include "simulator/profile.h"

using namespace zo2;
using namespace zo2::sim;
using Catch::Matchers::ContainsSubstring;
using Catch::Matchers::WithinRel;

TEST_CASE("the committed profiles load and cite every number", "[profile]") {
  for (const char* name : {"h100-targets", "h200-targets"}) {
    const HardwareProfile p = load_profile(name);
    CHECK(p.name == name);
    CHECK(p.driver == "580.159.04");
    CHECK(p.date == "2026-11-27");
    CHECK(p.h2d_pinned.at(1 << 30) > 50e9);
    CHECK(p.concurrent_factor() < 1.0);
    CHECK(p.concurrent_factor() > 0.7);
    for (const auto& [field, source] : p.sources) CHECK_FALSE(source.empty());
    CHECK(p.sources.size() >= 20);
  }
  CHECK_THAT(load_profile("h100-targets").concurrent_bytes_per_second, WithinRel(86.0e9, 1e-12));
  CHECK_THAT(load_profile("h200-targets").concurrent_bytes_per_second, WithinRel(90.8e9, 1e-12));
}

TEST_CASE("size tables interpolate in log size and hold their ends", "[profile]") {
  SizeTable t;
  t.points = {{1e6, 40e9}, {1e8, 50e9}};
  CHECK(t.at(1e3) == 40e9);
  CHECK(t.at(1e10) == 50e9);
  CHECK_THAT(t.at(1e7), WithinRel(45e9, 1e-12));
}

TEST_CASE("profiles round-trip through JSON", "[profile]") {
  const HardwareProfile p = load_profile("h100-targets");
  const nlohmann::json j = profile_to_json(p);
  const HardwareProfile q = parse_profile(j, "round trip");
  CHECK(profile_to_json(q) == j);
}

TEST_CASE("bad profile files: errors name the file, the field and the expected value", "[profile]") {
  const nlohmann::json good = read_json_file(profile_dir() / "h100-targets.json");
  auto fails = [&](auto edit, const std::string& a, const std::string& b) {
    nlohmann::json j = good;
    edit(j);
    CHECK_THROWS_WITH(parse_profile(j, "bad.json"),
                      ContainsSubstring("bad.json") && ContainsSubstring(a) && ContainsSubstring(b));
  };
  fails([](auto& j) { j.erase("concurrent_bytes_per_second"); }, "concurrent_bytes_per_second", "missing");
  fails([](auto& j) { j["launch_overhead_seconds"]["value"] = "5us"; }, "launch_overhead_seconds.value", "number");
  fails([](auto& j) { j["device_copy_bytes_per_second"]["value"] = 0; }, "device_copy_bytes_per_second", "> 0");
  fails([](auto& j) { j["gpu_rng_samples_per_second"].erase("source"); }, "gpu_rng_samples_per_second.source",
        "citing");
  fails([](auto& j) { j["h2d_pinned_bytes_per_second"]["points"][1][0] = 1; }, "h2d_pinned_bytes_per_second.points[1]",
        "larger than the previous");
  fails([](auto& j) { j["d2h_pinned_bytes_per_second"]["points"] = nlohmann::json::array(); },
        "d2h_pinned_bytes_per_second.points", "non-empty");
  fails([](auto& j) { j["forward_efficiency"]["fp16"]["value"] = 1.5; }, "forward_efficiency.fp16", "(0, 1]");
  fails([](auto& j) { j["gemm_flops_per_second"].erase("bf16"); }, "gemm_flops_per_second.bf16", "value");
  fails([](auto& j) { j["schema"] = "v2"; }, "schema", "zo2-hardware-profile/1");
  fails([](auto& j) { j.erase("card"); }, "card", "string");
  fails([](auto& j) { j["block_timings"] = {{{"hidden", 2048}}}; }, "block_timings[0]", "ffn");
  fails(
      [](auto& j) {
        j["block_timings"] = {{{"hidden", 2048}, {"ffn", 8192}, {"heads", 32}, {"batch", 1}, {"seq", 2048},
                               {"dtype", "fp16"}, {"forward_seconds", -1}, {"zo_update_seconds", 1},
                               {"zo_perturb_seconds", 1}, {"source", "x"}}};
      },
      "forward_seconds", "seconds > 0");
  const nlohmann::json block = {{"hidden", 2048}, {"ffn", 8192}, {"heads", 32}, {"batch", 1}, {"seq", 2048},
                                 {"dtype", "fp16"}, {"forward_seconds", 1e-3}, {"zo_update_seconds", 1e-4},
                                 {"zo_perturb_seconds", 1e-4}, {"source", "x"}};
  fails([&](auto& j) { j["block_timings"] = {block}; j["block_timings"][0]["resident_block_seconds"] = 0; },
        "block_timings[0]: field 'resident_block_seconds'", "seconds > 0");
  const nlohmann::json model = {{"hidden", 2048}, {"vocab_size", 50272}, {"word_embed_proj_dim", 2048},
                                {"batch", 1}, {"seq", 2048}, {"dtype", "fp16"}, {"embed_seconds", 4e-5},
                                {"head_loss_seconds", 1e-3}, {"source", "x"}};
  fails([&](auto& j) { j["model_timings"] = model; }, "model_timings", "an array");
  fails([&](auto& j) { j["model_timings"] = {model}; j["model_timings"][0].erase("vocab_size"); },
        "model_timings[0]: field 'vocab_size'", "an integer > 0");
  fails([&](auto& j) { j["model_timings"] = {model}; j["model_timings"][0]["head_loss_seconds"] = "1ms"; },
        "model_timings[0]: field 'head_loss_seconds'", "seconds > 0");
  fails([&](auto& j) { j["model_timings"] = {model}; j["model_timings"][0]["dtype"] = "fp12"; },
        "model_timings[0].dtype", "fp12");
  {
    nlohmann::json j = good;
    j["block_timings"] = {block};
    j["block_timings"][0]["resident_block_seconds"] = 3e-3;
    j["model_timings"] = {model};
    const HardwareProfile p = parse_profile(j, "good.json");
    CHECK(p.block_timings.at(0).resident_block_seconds == 3e-3);
    CHECK(p.find_model_timing(2048, 50272, 2048, DType::f16, 1, 2048)->head_loss_seconds == 1e-3);
    CHECK(p.find_model_timing(2048, 50272, 512, DType::f16, 1, 2048) == nullptr);
    CHECK(profile_to_json(parse_profile(profile_to_json(p), "again")) == profile_to_json(p));
  }
  CHECK_THROWS_WITH(load_profile("no-such-card"),
                    ContainsSubstring("--profile") && ContainsSubstring("h100-targets"));
  CHECK_THROWS_WITH(load_profile("/nonexistent/p.json"), ContainsSubstring("does not exist"));
}
