// `zo2 sweep SPEC --out FILE.csv`: grids of models x policies x profiles (x batch x seq) through the simulator, and
// the search for the fastest policy under a GPU memory budget; one CSV row per (configuration, metric).
#include <algorithm>
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
};

void run(const SweepArgs& a) {
  const sim::SweepSpec spec = sim::load_sweep_spec(a.spec);
  // Load everything first so a bad model or profile fails before any simulation runs.
  std::vector<ModelShape> shapes;
  for (const auto& m : spec.models) shapes.push_back(load_model(m, a.spec + ": models"));
  std::vector<sim::HardwareProfile> profiles;
  for (const auto& p : spec.profiles) profiles.push_back(sim::load_profile(p));
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
  cmd->callback([args] { run(*args); });
}

}  // namespace zo2::cli
