// `zo2 sweep SPEC --out FILE.csv`: grids of models x policies x profiles (x batch x seq) through the simulator, and
// the search for the fastest policy under a GPU memory budget; one CSV row per (configuration, metric).
#include <algorithm>
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
#include "simulator/sweep_spec.h"

namespace zo2::cli {

namespace {

struct SweepArgs {
  std::string spec, out;
  int64_t max_policies = 2000;
};

// What a sweep costs up front: one simulated cycle per (model, profile, batch, seq, policy), a search's every
// candidate included. A policy takes some milliseconds (tens on the largest presets), so the default bound is about
// a minute of simulation.
int64_t count_policies(const sim::SweepSpec& spec, const std::vector<ModelShape>& shapes) {
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
  const sim::SweepSpec spec = sim::load_sweep_spec(a.spec);
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
