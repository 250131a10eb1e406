// `zo2 plan`: prints the ops of one ZO step (queues, slots, bytes, FLOPs, dependencies) and its memory prediction.
#include <memory>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "core/model_shape.h"
#include "core/plan_json.h"
#include "experiments/cmd_sim_common.h"
#include "experiments/cmd_sim_policy_flags.h"
#include "experiments/commands.h"

namespace zo2::cli {

namespace {

struct PlanArgs {
  std::string model = "opt-1.3b", format = "table", out;
  int64_t batch = 1, seq = 2048, step = 0;
  PolicyOptions policy;
};

void run(const PlanArgs& a) {
  const ModelShape shape = load_model(a.model);
  const Policy policy = resolve_policy(a.policy, shape.layers);
  // With --prefetch-next on, the plan of a step after the first continues the one before (its prev_deps index that
  // plan): build them in order from step 0, as a run does.
  const int64_t first = policy.prefetch_next && a.step > 0 ? 0 : a.step;
  const std::vector<Plan> plans = build_plan_sequence(shape, policy, a.batch, a.seq, first, a.step - first + 1);
  const Plan& plan = plans.back();
  plan.validate(plans.size() > 1 ? &plans[plans.size() - 2] : nullptr);
  write_output(a.out, a.format == "json" ? plan_to_json(plan).dump(2) + "\n" : plan_table(plan));
}

}  // namespace

void add_plan_command(CLI::App& app) {
  auto args = std::make_shared<PlanArgs>();
  CLI::App* cmd = app.add_subcommand("plan", "print the plan of one ZO step: ops, queues, slots, deps, memory");
  cmd->add_option("--model", args->model,
                  fmt::format("preset ({}) or a directory with config.json", fmt::join(model_preset_names(), ", ")))
      ->capture_default_str();
  cmd->add_option("--batch", args->batch, "batch size")->capture_default_str();
  cmd->add_option("--seq", args->seq, "sequence length")->capture_default_str();
  cmd->add_option("--step", args->step, "step index (selects copy-backs and replays with --writeback K)")
      ->capture_default_str();
  cmd->add_option("--format", args->format, "output format")
      ->check(CLI::IsMember({"table", "json"}))
      ->capture_default_str();
  cmd->add_option("--out", args->out, "write the output to this file (atomically) instead of stdout");
  add_policy_options(*cmd, args->policy);
  cmd->callback([args] { run(*args); });
}

}  // namespace zo2::cli
