// `zo2 simulate`: one policy on one model and hardware profile in virtual time: step time, tok/s, link use, memory.
#include <memory>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "core/json_file.h"
#include "core/model_shape.h"
#include "core/plan_json.h"
#include "experiments/cmd_sim_common.h"
#include "experiments/cmd_sim_policy_flags.h"
#include "experiments/commands.h"
#include "experiments/simulate_run.h"
#include "simulator/metrics.h"
#include "simulator/simulator.h"
#include "simulator/trace.h"

namespace zo2::cli {

namespace {

std::string table_output(const SimulateArgs& a, const ModelShape& shape, const sim::HardwareProfile& profile,
                         const sim::CycleResult& c, const std::vector<sim::Metric>& m) {
  const Plan& plan = c.plans.front();
  auto v = [&](const char* name) { return sim::find_metric(m, name)->value; };
  std::string s;
  s += fmt::format("model      {} ({} layers, {} parameters)\n", a.model, shape.layers, shape.total_params());
  s += fmt::format("profile    {} ({}, driver {}, {})\n", profile.name, profile.card, profile.driver, profile.date);
  s += fmt::format("policy     {}{}\n", policy_summary(plan.policy), a.pageable ? ", pageable host memory" : "");
  s += fmt::format("workload   batch {}, seq {}; {} simulated step(s) in the write-back cycle\n", a.batch, a.seq,
                   c.cycle_steps());
  s += fmt::format("step       {:.6f} s (min {:.6f}, max {:.6f})\n", v("step_seconds"),
                   sim::find_metric(m, "step_seconds")->min, sim::find_metric(m, "step_seconds")->max);
  s += fmt::format("throughput {:.1f} tok/s\n", v("tokens_per_second"));
  s += fmt::format("link       h2d {} per step, busy {:.1f} %; d2h {} per step, busy {:.1f} %; both busy {:.1f} %; "
                   "achieved {:.2f} GB/s\n",
                   format_bytes(int64_t(v("h2d_bytes_per_step"))), 100 * v("h2d_busy_fraction"),
                   format_bytes(int64_t(v("d2h_bytes_per_step"))), 100 * v("d2h_busy_fraction"),
                   100 * v("link_both_busy_fraction"), v("link_bytes_per_second") * 1e-9);
  s += fmt::format("GPU        busy {:.1f} %\n", 100 * v("gpu_busy_fraction"));
  s += fmt::format("memory     peak GPU {} ({} B){}; host {} ({} B){}\n", format_bytes(int64_t(v("peak_gpu_bytes"))),
                   int64_t(v("peak_gpu_bytes")), v("fits_gpu_memory") > 0 ? "" : " EXCEEDS THE CARD",
                   format_bytes(int64_t(v("peak_host_bytes"))), int64_t(v("peak_host_bytes")),
                   v("fits_host_memory") > 0 ? "" : " EXCEEDS HOST MEMORY");
  // Terms live only at some moments say which (core/plan_memory.h): the peak is the always-live ones plus the
  // largest moment, not the sum of the lines.
  for (const auto& t : plan.memory.gpu)
    s += fmt::format("  gpu  {:<16} {:>12}{}\n", t.name, format_bytes(t.bytes),
                     t.live == Live::always       ? ""
                     : t.live == Live::forward    ? "  (while a forward is enqueued)"
                     : t.live == Live::head       ? "  (while a head op is enqueued)"
                     : t.live == Live::decode     ? "  (while an upload decodes)"
                                                  : "  (per-upload buffers, the most live at once)");
  for (const auto& t : plan.memory.host) s += fmt::format("  host {:<16} {:>12}\n", t.name, format_bytes(t.bytes));
  return s;
}

void run(const SimulateArgs& args) {
  const Simulation s = simulate_run(args);
  const SimulateArgs& a = s.args;
  const sim::CycleResult& c = s.cycle;
  if (!a.trace.empty()) write_output(a.trace, sim::chrome_trace(c).dump() + "\n");
  std::string text;
  if (a.format == "table") text = table_output(a, c.plans.front().shape, s.profile, c, s.metrics);
  else if (a.format == "json") text = simulation_json(s).dump(2) + "\n";
  else text = results_csv_text(result_rows(run_info(a.model, s.profile, c.plans.front().policy, a.batch, a.seq), s.metrics));
  write_output(a.out, text);
}

}  // namespace

void add_simulate_command(CLI::App& app) {
  auto args = std::make_shared<SimulateArgs>();
  CLI::App* cmd = app.add_subcommand("simulate", "simulate one ZO2 step of a model under a policy on a hardware profile");
  cmd->add_option("--model", args->model,
                  fmt::format("preset ({}) or a directory with config.json", fmt::join(model_preset_names(), ", ")))
      ->capture_default_str();
  cmd->add_option("--profile", args->profile, "hardware profile: a name under simulator/profiles or a JSON file")
      ->capture_default_str();
  cmd->add_option("--layers", args->layers, "keep only the first N blocks of the model (as zo2 train --layers)");
  cmd->add_option("--first-step", args->first_step, "with --steps: the first step index to simulate");
  cmd->add_option("--steps", args->steps,
                  fmt::format("simulate these steps (at most {}) and average them (default: one steady-state "
                              "write-back cycle, at any --writeback up to {})", sim::kMaxEventSteps, sim::kMaxCycleSteps));
  cmd->add_option("--batch", args->batch, "batch size")->capture_default_str();
  cmd->add_option("--seq", args->seq, "sequence length")->capture_default_str();
  cmd->add_option("--plan", args->plan,
                  "simulate this plan (JSON from `zo2 plan --format json`, possibly edited) instead of building one");
  cmd->add_flag("--pageable", args->pageable, "host slabs in pageable memory (copies at the pageable rates)");
  cmd->add_option("--trace", args->trace, "write a Chrome-trace/Perfetto timeline (JSON) here");
  cmd->add_option("--format", args->format, "output format")
      ->check(CLI::IsMember({"table", "json", "csv"}))
      ->capture_default_str();
  cmd->add_option("--out", args->out, "write the output to this file (atomically) instead of stdout");
  add_policy_options(*cmd, args->policy);
  cmd->callback([args] { run(*args); });
}

}  // namespace zo2::cli
