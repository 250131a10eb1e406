// Sweep specs (`zo2 sweep SPEC`): JSON grids of models x policies x profiles and policy searches, checked field by
// field; errors name the file and the field.
#include "simulator/sweep_spec.h"

#include <stdexcept>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/json_file.h"

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
  std::vector<std::pair<std::string, std::vector<json>>> axes;
  for (auto it = entry.begin(); it != entry.end(); ++it) {
    const bool integer = it.key() == "prefetch" || it.key() == "writeback";
    axes.emplace_back(it.key(), scalar_list(it.value(), where, it.key(),
                                            integer ? "an integer >= 0" : "a string (or a byte count)",
                                            integer ? is_nonneg_int : is_string_or_int));
  }
  // Counted before expanding: a short spec of long lists would otherwise expand for hours (the cartesian product).
  uint64_t count = 1;
  for (const auto& axis : axes)
    if (__builtin_mul_overflow(count, uint64_t(axis.second.size()), &count) || count + out.size() > kMaxSpecPolicies)
      throw std::invalid_argument(fmt::format("{}: the policy grids expand to more than {} policies, the most a sweep "
                                              "spec may list (split the spec or shorten its lists)",
                                              where, kMaxSpecPolicies));
  std::vector<size_t> index(axes.size(), 0);
  while (true) {
    json one = json::object();
    for (size_t a = 0; a < axes.size(); ++a) one[axes[a].first] = axes[a].second[index[a]];
    out.push_back(policy_options_from_json(one, where));
    size_t a = 0;
    while (a < axes.size() && ++index[a] == axes[a].second.size()) index[a++] = 0;
    if (a == axes.size()) break;
  }
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
    static const char* fields[] = {"gpu_mem_budget", "resident", "resident_counts", "prefetch", "writeback",
                                   "slots",          "overlap",  "dtype",           "wire",     "master",
                                   "prefetch_next"};
    for (auto it = q.begin(); it != q.end(); ++it) {
      bool ok = false;
      for (const char* k : fields) ok = ok || it.key() == k;
      if (!ok)
        bad(sw, it.key(), "no such field (expected gpu_mem_budget, resident, resident_counts, prefetch, writeback, "
                          "slots, overlap, dtype, wire, master, prefetch_next)", nullptr);
    }
    SearchSpace base;
    if (q.contains("resident")) {
      base.resident_sides = strings(q["resident"], sw, "resident");
      for (const auto& side : base.resident_sides)
        if (side != "first" && side != "last") bad(sw, "resident", "\"first\" or \"last\"", &q["resident"]);
    }
    if (q.contains("resident_counts")) base.resident_counts = ints(q["resident_counts"], sw, "resident_counts", true);
    if (q.contains("prefetch")) base.prefetch = ints(q["prefetch"], sw, "prefetch", true);
    if (q.contains("writeback")) base.writeback = ints(q["writeback"], sw, "writeback", false);
    if (q.contains("slots")) base.slots = strings(q["slots"], sw, "slots");
    if (q.contains("overlap")) base.overlap = strings(q["overlap"], sw, "overlap");
    if (q.contains("dtype")) base.dtype = strings(q["dtype"], sw, "dtype");
    if (q.contains("wire")) base.wire = strings(q["wire"], sw, "wire");
    if (q.contains("master")) base.master = strings(q["master"], sw, "master");
    if (q.contains("prefetch_next")) base.prefetch_next = strings(q["prefetch_next"], sw, "prefetch_next");
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
