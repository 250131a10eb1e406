// Every knob of the table (core/policy_knobs.h) reaches every place: JSON key, results column, plan field, CLI flag
// (simulate and, in torch builds, train), sweep grids and search, the search's enumeration, analysis/knobs.json and
// docs/METRICS.md. Iterates the table, so a knob added there and missed anywhere fails here.
#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <sstream>

#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch_test_macros.hpp>
#include <nlohmann/json.hpp>

#include "core/model_shape.h"
#include "core/plan.h"
#include "core/plan_json.h"
#include "core/policy.h"
#include "core/results_csv.h"
#include "simulator/search.h"

using namespace zo2;

namespace {

struct Output {
  int status = 0;
  std::string text;
};

Output run(const std::string& args) {
  Output o;
  std::FILE* p = popen((std::string(std::getenv("ZO2_BIN")) + " " + args + " 2>&1").c_str(), "r");
  std::array<char, 4096> buf{};
  while (std::fgets(buf.data(), int(buf.size()), p)) o.text += buf.data();
  const int st = pclose(p);
  o.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return o;
}

std::string read(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A random valid policy: each knob from its tried values or a few others (seed printed).
PolicyOptions random_options(std::mt19937& rng, int64_t layers) {
  PolicyOptions o;
  auto pick = [&](auto& field, auto values) { field = values[rng() % values.size()]; };
  pick(o.dtype, std::vector<std::string>{"fp16", "bf16", "fp32"});
  o.offload = format_offload([&] {
    std::vector<bool> v(static_cast<size_t>(layers));
    for (size_t i = 0; i < v.size(); ++i) v[i] = rng() % 2;
    return v;
  }());
  pick(o.prefetch, std::vector<int64_t>{0, 1, 3});
  pick(o.slots, std::vector<std::string>{"reuse", "alloc"});
  pick(o.writeback, std::vector<int64_t>{1, 2, 5});
  pick(o.fold_update, std::vector<std::string>{"on", "off"});
  if (o.dtype != "fp32") pick(o.wire_codec, std::vector<std::string>{"raw", "lossless"});  // codes 16-bit wires only
  pick(o.gpu_mem_budget, std::vector<std::string>{"0", "40GB", "123456789012"});
  return o;
}

}  // namespace

TEST_CASE("every knob has a JSON key, a results column and a plan field, and round-trips", "[knobs]") {
  const auto seed = std::random_device{}();
  INFO("seed " << seed);
  std::mt19937 rng(seed);
  const ModelShape shape = model_preset("opt-125m");
  const auto& cols = result_columns();
  for (int trial = 0; trial < 20; ++trial) {
    const Policy p = resolve_policy(random_options(rng, shape.layers), shape.layers);
    const nlohmann::json j = policy_to_json(p);
    const nlohmann::json plan = plan_to_json(build_plan(shape, p, 1, 128));
    ResultRow row;
    row.set_policy(p);
    REQUIRE(j.size() == policy_knobs().size());
    const auto fields = policy_fields(p);
    for (size_t i = 0; i < policy_knobs().size(); ++i) {
      const std::string name(policy_knobs()[i].name);
      INFO("knob " << name);
      CHECK(fields[i].first == name);
      CHECK(j.contains(name));
      CHECK(plan["policy"].contains(name));
      CHECK(std::find(cols.begin(), cols.end(), name) != cols.end());
      CHECK(row.fields.count(name) == 1);
      CHECK(row.fields[name] == fields[i].second);
      CHECK(!fields[i].second.empty());
    }
    // JSON -> options -> policy and options_of -> policy give p back, field by field.
    const Policy back = resolve_policy(policy_options_from_json(j, "test"), shape.layers);
    const Policy again = resolve_policy(policy_options_of(p), shape.layers);
    CHECK(policy_to_json(back) == j);
    CHECK(policy_to_json(again) == j);
    CHECK(plan_from_json(plan, "test").policy.offload == p.offload);
    CHECK(policy_to_json(plan_from_json(plan, "test").policy) == j);
  }
}

TEST_CASE("every grid knob is a search dimension the enumeration varies", "[knobs]") {
  const int64_t layers = 4;
  const PolicyGrid defaults = search_defaults();
  const nlohmann::json tried = [&] {
    nlohmann::json t;
#define ZO2_X(name, Kind, option, value, flag, help, legacy, search, tried_values) t[#name] = defaults.name;
    ZO2_POLICY_KNOBS(ZO2_X)
#undef ZO2_X
    return t;
  }();
  for (const auto& k : policy_knobs()) {
    INFO("knob " << k.name);
    const std::string name(k.name);
    if (k.search != knob::Search::grid) {
      // offload: the resident sets; gpu_mem_budget: the search's budget (both read by search_fastest).
      CHECK(tried[name].empty());
      continue;
    }
    REQUIRE(!tried[name].empty());
    // Each value tried for the knob (alone) appears in the enumerated policies, with the others at their defaults.
    sim::SearchSpace space;
    space.resident_counts = {0};
    space.resident_sides = {"first"};
    std::set<std::string> seen;
    for (const auto& p : sim::enumerate_policies(space, layers)) seen.insert(policy_to_json(p)[name].dump());
    for (const auto& v : tried[name]) {
      nlohmann::json one = nlohmann::json::object();
      one[name] = v;
      const Policy expect = resolve_policy(policy_options_from_json(one, "test"), layers);
      CHECK(seen.count(policy_to_json(expect)[name].dump()) == 1);
    }
  }
}

TEST_CASE("every knob is a flag of zo2 simulate (and zo2 train) and a key of zo2 sweep's grids and search",
          "[knobs][cli]") {
  if (!std::getenv("ZO2_BIN")) SKIP("ZO2_BIN is not set (run through ctest)");
  const Output help = run("simulate --help");
  REQUIRE(help.status == 0);
  const Output train = run("train --help");  // present in torch builds only (else the top-level help)
  const bool has_train = train.status == 0 && train.text.find("--steps") != std::string::npos;
  for (const auto& k : policy_knobs()) {
    INFO("knob " << k.name);
    CHECK(help.text.find(std::string(k.flag) + " ") != std::string::npos);
    if (has_train) CHECK(train.text.find(std::string(k.flag) + " ") != std::string::npos);
  }
  // A sweep whose grid and search name every knob with its default value: accepted, and the rows carry each column.
  nlohmann::json grid = nlohmann::json::object(), search = {{"resident_counts", {0}}, {"resident", "first"}};
  const Policy defaults = resolve_policy(PolicyOptions{}, 12);
  const nlohmann::json dj = policy_to_json(defaults);
  for (const auto& k : policy_knobs()) {
    grid[std::string(k.name)] = dj[std::string(k.name)];
    if (k.search == knob::Search::grid) search[std::string(k.name)] = nlohmann::json::array({dj[std::string(k.name)]});
  }
  const auto dir = std::filesystem::temp_directory_path() / ("zo2_test_knobs_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "spec.json") << nlohmann::json{{"models", {"opt-125m"}}, {"profiles", {"h100-targets"}},
                                                      {"seq", 128}, {"policies", {grid}}, {"search", search}}
                                          .dump();
  const Output sweep = run("sweep " + (dir / "spec.json").string() + " --out " + (dir / "rows.csv").string());
  INFO(sweep.text);
  REQUIRE(sweep.status == 0);
  const std::string rows = read(dir / "rows.csv");
  std::string header;
  for (size_t i = 0; i < result_columns().size(); ++i) header += (i ? "," : "") + result_columns()[i];
  CHECK(rows.substr(0, rows.find('\n')) == header);
  std::filesystem::remove_all(dir);
}

TEST_CASE("analysis/knobs.json is zo2 knobs --format json, and docs/METRICS.md names every knob", "[knobs][cli]") {
  if (!std::getenv("ZO2_BIN")) SKIP("ZO2_BIN is not set (run through ctest)");
  const Output o = run("knobs --format json");
  REQUIRE(o.status == 0);
  const auto j = nlohmann::json::parse(o.text);
  REQUIRE(j["knobs"].size() == policy_knobs().size());
  CHECK(j["result_columns"] == nlohmann::json(result_columns()));
  const std::filesystem::path src = ZO2_SOURCE_DIR;
  // Regenerate with: zo2 knobs --format json --out analysis/knobs.json
  CHECK(nlohmann::json::parse(read(src / "analysis/knobs.json")) == j);
  const std::string metrics = read(src / "docs/METRICS.md");
  for (const auto& k : policy_knobs()) {
    INFO("knob " << k.name << " in docs/METRICS.md");
    CHECK(metrics.find("`" + std::string(k.name) + "`") != std::string::npos);
  }
}
