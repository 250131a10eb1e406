// Sweep specs (`zo2 sweep SPEC`): JSON grids of models x policies x profiles and policy searches, checked field by
// field; errors name the file and the field.
#include "simulator/sweep_spec.h"

#include <algorithm>
#include <stdexcept>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/json_file.h"
#include "core/policy_knobs.h"

namespace zo2::sim {

namespace {

using nlohmann::json;

[[noreturn]] void bad(const std::string& where, const std::string& field, const std::string& expected, const json* got) {
  throw std::invalid_argument(fmt::format("{}: field '{}': expected {}{}", where, field, expected,
                                          got ? ", got " + got->dump() : std::string(", but it is missing")));
}

// A scalar or a list of scalars, each checked by `ok`.
std::vector<json> scalar_list(const json& j, const std::string& where, const std::string& field,
                              const std::string& expected, bool (*ok)(const json&)) {
  std::vector<json> out;
  if (j.is_array()) {
    if (j.empty()) bad(where, field, "a non-empty list of " + expected, &j);
    for (size_t i = 0; i < j.size(); ++i) {
      if (!ok(j[i])) bad(where, fmt::format("{}[{}]", field, i), expected, &j[i]);
      out.push_back(j[i]);
    }
  } else {
    if (!ok(j)) bad(where, field, expected + " or a list of them", &j);
    out.push_back(j);
  }
  return out;
}

bool is_string(const json& j) { return j.is_string(); }
bool is_positive_int(const json& j) { return j.is_number_integer() && j.get<int64_t>() > 0; }
bool is_nonneg_int(const json& j) { return j.is_number_integer() && j.get<int64_t>() >= 0; }
bool is_string_or_int(const json& j) { return j.is_string() || is_nonneg_int(j); }

std::vector<std::string> strings(const json& j, const std::string& where, const std::string& field) {
  std::vector<std::string> out;
  for (const auto& v : scalar_list(j, where, field, "a string", is_string)) out.push_back(v.get<std::string>());
  return out;
}

std::vector<int64_t> ints(const json& j, const std::string& where, const std::string& field, bool allow_zero) {
  std::vector<int64_t> out;
  for (const auto& v : scalar_list(j, where, field, allow_zero ? "an integer >= 0" : "an integer > 0",
                                   allow_zero ? is_nonneg_int : is_positive_int))
    out.push_back(v.get<int64_t>());
  return out;
}

// One grid entry {"prefetch": [0, 1], "writeback": 4, ...}: the cartesian product of its fields.
void expand_policy_grid(const json& entry, const std::string& where, std::vector<PolicyOptions>& out) {
  if (!entry.is_object()) bad(where, "policies[]", "an object of policy fields", &entry);
  const PolicyGrid grid = policy_grid_from_json(entry, where);
  // Counted before expanding: a short spec of long lists would otherwise expand for hours (the cartesian product).
  uint64_t count = 1;
  bool over = false;
#define ZO2_X(name, Kind, option, value, flag, help, legacy, search, tried) \
  if (!grid.name.empty()) over = over || __builtin_mul_overflow(count, uint64_t(grid.name.size()), &count);
  ZO2_POLICY_KNOBS(ZO2_X)
#undef ZO2_X
  if (over || count + out.size() > kMaxSpecPolicies)
    throw std::invalid_argument(fmt::format("{}: the policy grids expand to more than {} policies, the most a sweep "
                                            "spec may list (split the spec or shorten its lists)",
                                            where, kMaxSpecPolicies));
  for_each_policy_options(grid, PolicyOptions{}, [&](const PolicyOptions& o) { out.push_back(o); });
}

}  // namespace

SweepSpec parse_sweep_spec(const json& j, const std::string& w) {
  if (!j.is_object()) throw std::invalid_argument(fmt::format("{}: expected a JSON object (a sweep spec)", w));
  static const char* known[] = {"models", "profiles", "batch", "seq", "pageable", "policies", "search"};
  for (auto it = j.begin(); it != j.end(); ++it) {
    bool ok = false;
    for (const char* k : known) ok = ok || it.key() == k;
    if (!ok)
      bad(w, it.key(), "no such field (the spec's fields are models, profiles, batch, seq, pageable, policies, search)",
          nullptr);
  }
  SweepSpec s;
  if (!j.contains("models")) bad(w, "models", "a list of presets or model directories", nullptr);
  s.models = strings(j["models"], w, "models");
  if (!j.contains("profiles")) bad(w, "profiles", "a list of profile names or files", nullptr);
  s.profiles = strings(j["profiles"], w, "profiles");
  if (j.contains("batch")) s.batch = ints(j["batch"], w, "batch", false);
  if (j.contains("seq")) s.seq = ints(j["seq"], w, "seq", false);
  if (j.contains("pageable")) {
    if (!j["pageable"].is_boolean()) bad(w, "pageable", "true or false", &j["pageable"]);
    s.pageable = j["pageable"].get<bool>();
  }
  if (j.contains("policies")) {
    const json& p = j["policies"];
    if (!p.is_array()) bad(w, "policies", "a list of policy grids (objects)", &p);
    for (size_t i = 0; i < p.size(); ++i) expand_policy_grid(p[i], fmt::format("{}: policies[{}]", w, i), s.policies);
  }
  if (j.contains("search")) {
    const json& q = j["search"];
    const std::string sw = w + ": search";
    if (!q.is_object()) bad(w, "search", "an object", &q);
    // The search's own fields, then one per knob of search role `grid` (core/policy_knobs.h).
    std::vector<std::string> own{"gpu_mem_budget", "resident", "resident_counts"};
    std::string expected = "gpu_mem_budget, resident, resident_counts";
    for (const auto& k : policy_knobs())
      if (k.search == knob::Search::grid) expected += ", " + std::string(k.name);
    for (auto it = q.begin(); it != q.end(); ++it) {
      bool ok = std::find(own.begin(), own.end(), it.key()) != own.end();
      for (const auto& k : policy_knobs()) ok = ok || (k.search == knob::Search::grid && it.key() == k.name);
      if (!ok) bad(sw, it.key(), "no such field (expected " + expected + ")", nullptr);
    }
    SearchSpace base;
    if (q.contains("resident")) {
      base.resident_sides = strings(q["resident"], sw, "resident");
      for (const auto& side : base.resident_sides)
        if (side != "first" && side != "last") bad(sw, "resident", "\"first\" or \"last\"", &q["resident"]);
    }
    if (q.contains("resident_counts")) base.resident_counts = ints(q["resident_counts"], sw, "resident_counts", true);
    const PolicyGrid given = policy_grid_from_json(q, sw, own);
#define ZO2_X(name, Kind, option, value, flag, help, legacy, search, tried) \
  if (q.contains(#name)) base.grid.name = given.name;
    ZO2_POLICY_KNOBS(ZO2_X)
#undef ZO2_X
    std::vector<int64_t> budgets{0};
    if (q.contains("gpu_mem_budget")) {
      budgets.clear();
      for (const auto& v : scalar_list(q["gpu_mem_budget"], sw, "gpu_mem_budget", "a byte count (40GB, 40GiB, 0)",
                                       is_string_or_int))
        budgets.push_back(v.is_string() ? parse_bytes(v.get<std::string>(), sw + ": field 'gpu_mem_budget'")
                                        : v.get<int64_t>());
    }
    for (int64_t b : budgets) {
      SearchSpace one = base;
      one.gpu_mem_budget = b;
      s.searches.push_back(one);
    }
  }
  if (s.policies.empty() && s.searches.empty())
    bad(w, "policies", "a list of policy grids (or a \"search\" object); the spec asks for nothing", nullptr);
  return s;
}

SweepSpec load_sweep_spec(const std::filesystem::path& path) {
  return parse_sweep_spec(read_json_file(path), path.string());
}

}  // namespace zo2::sim
