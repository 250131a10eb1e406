// Policy parsing: --offload lists, byte counts, flag validation (errors name the flag), JSON round trip.
#include <random>

#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>
#include <nlohmann/json.hpp>

#include "core/policy.h"

using namespace zo2;
using Catch::Matchers::ContainsSubstring;

TEST_CASE("offload all, none and lists resolve against the layer count", "[policy]") {
  CHECK(parse_offload("all", 4) == std::vector<bool>{true, true, true, true});
  CHECK(parse_offload("none", 3) == std::vector<bool>{false, false, false});
  CHECK(parse_offload("0-1,3", 5) == std::vector<bool>{true, true, false, true, false});
  CHECK(parse_offload(" 2 , 0-0 ", 3) == std::vector<bool>{true, false, true});
  CHECK(format_offload({true, true, false, true, false, true, true}) == "0-1,3,5-6");
  CHECK(format_offload({true, true}) == "all");
  CHECK(format_offload({false, false}) == "none");
}

TEST_CASE("offload errors name the flag and the problem", "[policy]") {
  CHECK_THROWS_WITH(parse_offload("0-12", 12), ContainsSubstring("--offload") && ContainsSubstring("outside"));
  CHECK_THROWS_WITH(parse_offload("5-2", 12), ContainsSubstring("--offload") && ContainsSubstring("backwards"));
  CHECK_THROWS_WITH(parse_offload("some", 12), ContainsSubstring("--offload") && ContainsSubstring("0-5,8,10-11"));
  CHECK_THROWS_WITH(parse_offload("1,,2", 12), ContainsSubstring("--offload"));
  CHECK_THROWS_WITH(parse_offload("-3", 12), ContainsSubstring("--offload"));
  CHECK_THROWS_WITH(parse_offload("", 12), ContainsSubstring("--offload"));
}

TEST_CASE("format_offload and parse_offload round-trip random sets", "[policy]") {
  std::mt19937 rng(std::random_device{}());
  for (int trial = 0; trial < 200; ++trial) {
    const int64_t layers = 1 + int64_t(rng() % 100);
    std::vector<bool> set(static_cast<size_t>(layers));
    for (size_t i = 0; i < set.size(); ++i) set[i] = rng() % 2;
    CHECK(parse_offload(format_offload(set), layers) == set);
  }
}

TEST_CASE("first and last N resident blocks", "[policy]") {
  CHECK(offload_spec_first_resident(0, 8) == "all");
  CHECK(offload_spec_first_resident(8, 8) == "none");
  CHECK(parse_offload(offload_spec_first_resident(3, 8), 8) ==
        std::vector<bool>{false, false, false, true, true, true, true, true});
  CHECK(parse_offload(offload_spec_last_resident(3, 8), 8) ==
        std::vector<bool>{true, true, true, true, true, false, false, false});
  CHECK(parse_offload(offload_spec_first_resident(7, 8), 8).back());
  CHECK(parse_offload(offload_spec_last_resident(7, 8), 8).front());
  for (int64_t n = 0; n <= 8; ++n) {
    Policy p;
    p.offload = parse_offload(offload_spec_last_resident(n, 8), 8);
    CHECK(p.offloaded_count() == 8 - n);
  }
}

TEST_CASE("byte counts take decimal and binary units", "[policy]") {
  CHECK(parse_bytes("0", "--gpu-mem-budget") == 0);
  CHECK(parse_bytes("1024", "--gpu-mem-budget") == 1024);
  CHECK(parse_bytes("40GB", "--gpu-mem-budget") == 40'000'000'000);
  CHECK(parse_bytes("40GiB", "--gpu-mem-budget") == 40ll << 30);
  CHECK(parse_bytes("1.5 MB", "--gpu-mem-budget") == 1'500'000);
  CHECK_THROWS_WITH(parse_bytes("forty", "--gpu-mem-budget"), ContainsSubstring("--gpu-mem-budget"));
  CHECK_THROWS_WITH(parse_bytes("40XB", "--gpu-mem-budget"), ContainsSubstring("GiB"));
  CHECK_THROWS_WITH(parse_bytes("-1", "--gpu-mem-budget"), ContainsSubstring("--gpu-mem-budget"));
}

TEST_CASE("resolve_policy defaults wire and master to the compute format", "[policy]") {
  PolicyOptions o;
  o.dtype = "bf16";
  const Policy p = resolve_policy(o, 12);
  CHECK(p.wire == DType::bf16);
  CHECK(p.master == DType::bf16);
  CHECK(p.gpu_writes_back());
  CHECK(p.offloaded_count() == 12);
}

TEST_CASE("policy validation errors name the flag and the expected value", "[policy]") {
  auto with = [](auto edit) {
    PolicyOptions o;
    edit(o);
    return o;
  };
  CHECK_THROWS_WITH(resolve_policy(with([](auto& o) { o.slots = "pool"; }), 4),
                    ContainsSubstring("--slots") && ContainsSubstring("reuse or alloc"));
  CHECK_THROWS_WITH(resolve_policy(with([](auto& o) { o.overlap = "maybe"; }), 4),
                    ContainsSubstring("--overlap") && ContainsSubstring("on or off"));
  CHECK_THROWS_WITH(resolve_policy(with([](auto& o) { o.wire = "int4"; }), 4), ContainsSubstring("--wire"));
  CHECK_THROWS_WITH(resolve_policy(with([](auto& o) { o.master = "fp8"; }), 4), ContainsSubstring("--master"));
  CHECK_THROWS_WITH(resolve_policy(with([](auto& o) { o.dtype = "fp8"; }), 4), ContainsSubstring("--dtype"));
  CHECK_THROWS_WITH(resolve_policy(with([](auto& o) { o.prefetch = -1; }), 4),
                    ContainsSubstring("--prefetch") && ContainsSubstring(">= 0"));
  CHECK_THROWS_WITH(resolve_policy(with([](auto& o) { o.writeback = 0; }), 4),
                    ContainsSubstring("--writeback") && ContainsSubstring(">= 1"));
  CHECK_THROWS_WITH(resolve_policy(with([](auto& o) {
                      o.wire = "fp8";
                      o.master = "fp32";
                      o.writeback = 4;
                    }), 4),
                    ContainsSubstring("--writeback"));
  CHECK_THROWS_WITH(resolve_policy(with([](auto& o) { o.gpu_mem_budget = "lots"; }), 4),
                    ContainsSubstring("--gpu-mem-budget"));
  CHECK_THROWS_WITH(resolve_policy(with([](auto& o) { o.offload = "0-9"; }), 4), ContainsSubstring("--offload"));
}

TEST_CASE("wire below master means the host updates the master", "[policy]") {
  CHECK(at_least_as_precise(DType::f32, DType::f16));
  CHECK(at_least_as_precise(DType::f16, DType::f16));
  CHECK_FALSE(at_least_as_precise(DType::f16, DType::bf16));
  CHECK_FALSE(at_least_as_precise(DType::fp8_e4m3, DType::f16));
  CHECK_FALSE(at_least_as_precise(DType::f16, DType::f32));
}

TEST_CASE("policy JSON round-trips and its errors name the field", "[policy]") {
  PolicyOptions o;
  o.offload = "2-5,7";
  o.prefetch = 3;
  o.slots = "alloc";
  o.overlap = "off";
  o.dtype = "fp16";
  o.wire = "fp32";
  o.master = "fp32";
  o.writeback = 4;
  o.gpu_mem_budget = "40GB";
  const Policy p = resolve_policy(o, 8);
  const Policy q = resolve_policy(policy_options_from_json(policy_to_json(p), "test"), 8);
  CHECK(policy_to_json(p) == policy_to_json(q));
  CHECK(policy_to_json(resolve_policy(policy_options_of(p), 8)) == policy_to_json(p));
  CHECK_THROWS_WITH(policy_options_from_json(nlohmann::json{{"prefetch", "two"}}, "spec.json"),
                    ContainsSubstring("spec.json") && ContainsSubstring("prefetch") && ContainsSubstring("integer"));
  CHECK_THROWS_WITH(policy_options_from_json(nlohmann::json{{"prefech", 2}}, "spec.json"),
                    ContainsSubstring("unknown policy field 'prefech'"));
}

TEST_CASE("the prefetch-next switch parses, round-trips and is refused where it cannot work, naming the flag", "[policy]") {
  auto with = [](auto edit) {
    PolicyOptions o;
    o.prefetch_next = "on";
    edit(o);
    return o;
  };
  CHECK(resolve_policy(with([](auto&) {}), 4).prefetch_next);
  CHECK_FALSE(resolve_policy(PolicyOptions{}, 4).prefetch_next);  // off by default
  CHECK_THROWS_WITH(resolve_policy(with([](auto& o) { o.prefetch_next = "sometimes"; }), 4),
                    ContainsSubstring("--prefetch-next") && ContainsSubstring("on or off"));
  CHECK_THROWS_WITH(resolve_policy(with([](auto& o) { o.overlap = "off"; }), 4),
                    ContainsSubstring("--prefetch-next") && ContainsSubstring("--overlap"));
  CHECK_THROWS_WITH(resolve_policy(with([](auto& o) { o.slots = "alloc"; }), 4),
                    ContainsSubstring("--prefetch-next") && ContainsSubstring("--slots"));
  CHECK_THROWS_WITH(resolve_policy(with([](auto& o) {
                      o.wire = "fp16";
                      o.master = "fp32";
                    }), 4),
                    ContainsSubstring("--prefetch-next") && ContainsSubstring("master"));
  // Nothing offloaded: accepted (the plan has nothing to upload early).
  CHECK(resolve_policy(with([](auto& o) { o.offload = "none"; }), 4).prefetch_next);
  const Policy p = resolve_policy(with([](auto& o) { o.prefetch = 2; }), 8);
  const nlohmann::json j = policy_to_json(p);
  CHECK(j["prefetch_next"] == "on");
  CHECK(resolve_policy(policy_options_from_json(j, "test"), 8).prefetch_next);
  CHECK(resolve_policy(policy_options_of(p), 8).prefetch_next);
  CHECK(resolve_policy(policy_options_from_json(nlohmann::json{{"prefetch_next", true}}, "spec.json"), 8).prefetch_next);
  // Policies written before the knob existed read as off.
  CHECK_FALSE(resolve_policy(policy_options_from_json(nlohmann::json{{"prefetch", 2}}, "spec.json"), 8).prefetch_next);
}
