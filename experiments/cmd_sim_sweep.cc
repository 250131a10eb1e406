// `zo2 sweep SPEC --out FILE.csv`: grids of models x policies x profiles (x batch x seq) through the simulator, and
// the search for the fastest policy under a GPU memory budget; one CSV row per (configuration, metric).
#include <chrono>
#include <memory>
#include <stdexcept>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/atomic_file.h"
#include "core/json_file.h"
#include "experiments/cmd_sim_common.h"
#include "experiments/commands.h"
#include "simulator/search.h"

namespace zo2::cli {

namespace {

using nlohmann::json;

struct SweepSpec {
  std::vector<std::string> models, profiles;
  std::vector<int64_t> batch{1}, seq{2048};
  bool pageable = false;
  std::vector<PolicyOptions> policies;
  std::vector<sim::SearchSpace> searches;  // one per budget
};

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

SweepSpec parse_spec(const std::string& path) {
  const json j = read_json_file(path);
  const std::string& w = path;
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
    sim::SearchSpace base;
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
      sim::SearchSpace one = base;
      one.gpu_mem_budget = b;
      s.searches.push_back(one);
    }
  }
  if (s.policies.empty() && s.searches.empty())
    bad(w, "policies", "a list of policy grids (or a \"search\" object); the spec asks for nothing", nullptr);
  return s;
}

struct SweepArgs {
  std::string spec, out;
  int64_t max_policies = 2000;
};

// What a sweep costs up front: one simulated cycle per (model, profile, batch, seq, policy), a search's every
// candidate included. A policy takes some milliseconds (tens on the largest presets), so the default bound is about
// a minute of simulation.
int64_t count_policies(const SweepSpec& spec, const std::vector<ModelShape>& shapes) {
  int64_t total = 0;
  for (const auto& shape : shapes) {
    int64_t per = int64_t(spec.policies.size());
    for (const auto& space : spec.searches) per += int64_t(sim::enumerate_policies(space, shape.layers).size());
    total += per;
  }
  return total * int64_t(spec.profiles.size()) * int64_t(spec.batch.size()) * int64_t(spec.seq.size());
}

// Progress on stderr every few seconds, so that a long sweep is not a silent one.
class Progress {
 public:
  explicit Progress(int64_t total) : total_(total), start_(std::chrono::steady_clock::now()), last_(start_) {}
  void advance(int64_t n) {
    done_ += n;
    const auto now = std::chrono::steady_clock::now();
    if (now - last_ < std::chrono::seconds(2)) return;
    last_ = now;
    const double elapsed = std::chrono::duration<double>(now - start_).count();
    fmt::print(stderr, "zo2 sweep: {} of {} policies simulated ({:.0f} %, {:.0f} s, about {:.0f} s left)\n", done_,
               total_, 100.0 * double(done_) / double(total_), elapsed,
               elapsed * double(total_ - done_) / double(std::max<int64_t>(done_, 1)));
  }

 private:
  int64_t total_, done_ = 0;
  std::chrono::steady_clock::time_point start_, last_;
};

void run(const SweepArgs& a) {
  const SweepSpec spec = parse_spec(a.spec);
  // Load everything first so a bad model or profile fails before any simulation runs.
  std::vector<ModelShape> shapes;
  for (const auto& m : spec.models) shapes.push_back(load_model(m, a.spec + ": models"));
  std::vector<sim::HardwareProfile> profiles;
  for (const auto& p : spec.profiles) profiles.push_back(sim::load_profile(p));
  const int64_t total = count_policies(spec, shapes);
  if (total > a.max_policies)
    throw std::invalid_argument(fmt::format(
        "{}: the spec expands to {} policies to simulate (models x profiles x batch x seq x policies, search "
        "candidates included), more than --max-policies {} allows (the default, {}, is about a minute of "
        "simulation); pass --max-policies {} to run them all",
        a.spec, total, a.max_policies, SweepArgs{}.max_policies, total));
  Progress progress(total);
  const std::string commit = current_commit(), date = current_date_utc();
  sim::CycleOptions options;
  options.pageable = spec.pageable;
  std::vector<ResultRow> rows;
  int64_t skipped = 0;
  for (size_t mi = 0; mi < shapes.size(); ++mi)
    for (const auto& profile : profiles)
      for (int64_t batch : spec.batch)
        for (int64_t seq : spec.seq) {
          auto info = [&](const Policy& p) {
            RunInfo r;
            r.commit = commit;
            r.date = date;
            r.card = profile.card;
            r.driver = profile.driver;
            r.model = spec.models[mi];
            r.batch = batch;
            r.seq = seq;
            r.policy = p;
            return r;
          };
          for (const auto& o : spec.policies) {
            progress.advance(1);
            Policy p;
            sim::CycleResult c;
            try {
              p = resolve_policy(o, shapes[mi].layers);
              c = sim::simulate_cycle(shapes[mi], p, batch, seq, profile, options);
            } catch (const std::invalid_argument& e) {
              fmt::print(stderr, "zo2 sweep: skipped {} on {}: {}\n", spec.models[mi], profile.name, e.what());
              ++skipped;
              continue;
            }
            const auto metrics = sim::cycle_metrics(c, profile);
            for (auto& row : result_rows(info(p), metrics)) rows.push_back(std::move(row));
          }
          for (const auto& space : spec.searches) {
            const auto r = sim::search_fastest(shapes[mi], batch, seq, profile, space, options);
            progress.advance(int64_t(sim::enumerate_policies(space, shapes[mi].layers).size()));
            const std::string budget = space.gpu_mem_budget ? format_bytes(space.gpu_mem_budget) : "the card";
            if (!r.found) {
              fmt::print(stderr, "zo2 sweep: search on {} {} batch {} seq {}: none of {} policies fits {}\n",
                         spec.models[mi], profile.name, batch, seq, r.candidates, budget);
              continue;
            }
            fmt::print("search {} {} batch {} seq {} budget {}: best of {} policies ({} over budget): {} ({:.6f} s, "
                       "{:.1f} tok/s)\n",
                       spec.models[mi], profile.name, batch, seq, budget, r.candidates, r.over_budget,
                       policy_to_json(r.best).dump(), sim::find_metric(r.metrics, "step_seconds")->value,
                       sim::find_metric(r.metrics, "tokens_per_second")->value);
            for (auto& row : result_rows(info(r.best), r.metrics)) rows.push_back(std::move(row));
          }
        }
  append_result_rows(a.out, rows);
  fmt::print("zo2 sweep: appended {} rows to {}{}\n", rows.size(), a.out,
             skipped ? fmt::format(" ({} configurations skipped)", skipped) : "");
}

}  // namespace

void add_sweep_command(CLI::App& app) {
  auto args = std::make_shared<SweepArgs>();
  CLI::App* cmd = app.add_subcommand("sweep", "simulate grids of models x policies x profiles and search policies");
  cmd->add_option("spec", args->spec, "sweep spec (JSON; see simulator/README.md)")->required();
  cmd->add_option("--out", args->out, "results CSV, one row per (configuration, metric); rows are appended (same header required)")->required();
  cmd->add_option("--max-policies", args->max_policies,
                  "refuse a spec that expands to more policies than this (the default is about a minute)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->callback([args] { run(*args); });
}

}  // namespace zo2::cli
