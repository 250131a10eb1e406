// Hardware profiles: the committed ones load, round-trip, and bad files give errors naming the field and the
// expected value.
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_floating_point.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>
#include <nlohmann/json.hpp>

#include <random>

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

TEST_CASE("block timings: the folded restore and the resident loop's composition", "[profile]") {
  // Fresh random times each run, so a swapped field cannot pass by coincidence.
  std::mt19937_64 rng(std::random_device{}());
  std::uniform_real_distribution<double> u(0.5, 1.5);
  const double fwd = 1e-3 * u(rng), update = 1e-4 * u(rng), perturb = 0.5e-4 * u(rng), fold = 0.7e-4 * u(rng),
               loop = 2e-3 * u(rng);
  nlohmann::json good = read_json_file(profile_dir() / "h100-targets.json");
  const nlohmann::json block = {{"hidden", 2048}, {"ffn", 8192}, {"heads", 32}, {"batch", 1}, {"seq", 2048},
                                 {"dtype", "fp16"}, {"forward_seconds", fwd}, {"zo_update_seconds", update},
                                 {"zo_perturb_seconds", perturb}, {"source", "x"}};
  auto parsed = [&](const nlohmann::json& b) {
    nlohmann::json j = good;
    j["block_timings"] = {b};
    return parse_profile(j, "p.json").block_timings.at(0);
  };
  // Absent: no fold time, the pending loop (what every profile measured before the fold meant).
  const BlockTiming plain = parsed(block);
  CHECK(plain.zo_fold_seconds == 0);
  CHECK(plain.resident_loop == ResidentLoop::pending);
  CHECK_THAT(plain.isolated_block_seconds(), WithinRel(update + 2 * fwd + 2 * perturb, 1e-12));
  // A fold time alone does not change which loop was measured.
  nlohmann::json b = block;
  b["zo_fold_seconds"] = fold;
  b["resident_block_seconds"] = loop;
  const BlockTiming with_fold = parsed(b);
  CHECK(with_fold.zo_fold_seconds == fold);
  CHECK(with_fold.resident_loop == ResidentLoop::pending);
  CHECK_THAT(with_fold.isolated_block_seconds(), WithinRel(update + 2 * fwd + 2 * perturb, 1e-12));
  b["resident_loop"] = "pending";
  CHECK(parsed(b).resident_loop == ResidentLoop::pending);
  // Folded: zo+ and zo- perturb only, zo= folded, two forwards.
  b["resident_loop"] = "folded";
  const BlockTiming folded = parsed(b);
  CHECK(folded.resident_loop == ResidentLoop::folded);
  CHECK(folded.resident_block_seconds == loop);
  CHECK_THAT(folded.isolated_block_seconds(), WithinRel(2 * perturb + fold + 2 * fwd, 1e-12));
  // Both fields are written back, and read back the same.
  {
    nlohmann::json j = good;
    j["block_timings"] = {b};
    const nlohmann::json out = profile_to_json(parse_profile(j, "p.json"));
    CHECK(out["block_timings"][0]["zo_fold_seconds"] == fold);
    CHECK(out["block_timings"][0]["resident_loop"] == "folded");
    CHECK(profile_to_json(parse_profile(out, "again")) == out);
    // An entry without them stays without them (pending is the default, written only beside a measured loop).
    j["block_timings"] = {block};
    const nlohmann::json plain_out = profile_to_json(parse_profile(j, "p.json"));
    CHECK_FALSE(plain_out["block_timings"][0].contains("zo_fold_seconds"));
    CHECK_FALSE(plain_out["block_timings"][0].contains("resident_loop"));
  }
  // Bad values: the file, the record and the field, and what was expected.
  auto fails = [&](const nlohmann::json& bad, const std::string& field, const std::string& expected) {
    nlohmann::json j = good;
    j["block_timings"] = {block, bad};
    CHECK_THROWS_WITH(parse_profile(j, "bad.json"),
                      ContainsSubstring("bad.json: block_timings[1]: field '" + field + "'") &&
                          ContainsSubstring(expected));
  };
  nlohmann::json bad = b;
  bad["resident_loop"] = "fold";
  fails(bad, "resident_loop", "\"folded\"");
  bad["resident_loop"] = 1;
  fails(bad, "resident_loop", "\"pending\"");
  bad = b;
  bad.erase("zo_fold_seconds");  // folded needs the fold's own time
  fails(bad, "zo_fold_seconds", "resident_loop \"folded\"");
  bad = b;
  bad["zo_fold_seconds"] = 0;
  fails(bad, "zo_fold_seconds", "seconds > 0");
  bad["zo_fold_seconds"] = "70us";
  fails(bad, "zo_fold_seconds", "seconds > 0");
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
    ModelShape shape = zo2::model_preset("opt-1.3b");  // the record names no family: read as opt-1.3b's
    CHECK(p.find_model_timing(shape, DType::f16, 1, 2048)->head_loss_seconds == 1e-3);
    shape.word_embed_proj_dim = 512;
    CHECK(p.find_model_timing(shape, DType::f16, 1, 2048) == nullptr);
    CHECK(profile_to_json(parse_profile(profile_to_json(p), "again")) == profile_to_json(p));
  }
  CHECK_THROWS_WITH(load_profile("no-such-card"),
                    ContainsSubstring("--profile") && ContainsSubstring("h100-targets"));
  CHECK_THROWS_WITH(load_profile("/nonexistent/p.json"), ContainsSubstring("does not exist"));
}

TEST_CASE("block and model timings are keyed by family and head layout; records without a family read as their "
          "OPT or LLaMA preset") {
  // The committed profile's records predate the registry: llama-3-8b's block is found for LLaMA, not for Mistral-7B
  // (the same hidden, ffn, heads and key-value heads), and OPT's for OPT.
  const HardwareProfile committed = load_profile("h200-measured");
  const ModelShape llama = zo2::model_preset("llama-3-8b"), mistral = zo2::model_preset("mistral-7b-v0.3");
  REQUIRE(llama.hidden == mistral.hidden);
  REQUIRE(llama.ffn == mistral.ffn);
  REQUIRE(llama.key_value_heads() == mistral.key_value_heads());
  const BlockTiming* t = committed.find_block_timing(llama, DType::f16, 1, 2048);
  REQUIRE(t != nullptr);
  CHECK(t->family == "llama");
  CHECK(t->resolved_kv_heads() == 8);
  CHECK(committed.find_block_timing(mistral, DType::f16, 1, 2048) == nullptr);
  CHECK(committed.find_block_timing(zo2::model_preset("opt-6.7b"), DType::f16, 1, 2048)->family == "opt");
  CHECK(committed.find_model_timing(llama, DType::f16, 1, 2048)->family == "llama");

  // Written with a family, a record is found for that family and head layout only, and survives a round trip.
  nlohmann::json j = profile_to_json(committed);
  for (auto& b : j["block_timings"])
    if (b["family"] == "llama" && b["ffn"] == 14336) b["family"] = "mistral";
  const HardwareProfile edited = parse_profile(j, "edited.json");
  CHECK(edited.find_block_timing(mistral, DType::f16, 1, 2048) != nullptr);
  CHECK(edited.find_block_timing(llama, DType::f16, 1, 2048) == nullptr);
  ModelShape other_heads = mistral;
  other_heads.kv_heads = 4;
  CHECK(edited.find_block_timing(other_heads, DType::f16, 1, 2048) == nullptr);
  CHECK(profile_to_json(parse_profile(profile_to_json(edited), "again")) == profile_to_json(edited));
  j["block_timings"][0]["family"] = "gpt-17";
  CHECK_THROWS_WITH(parse_profile(j, "bad.json"),
                    ContainsSubstring("bad.json") && ContainsSubstring("family") && ContainsSubstring("gpt-17"));
}
