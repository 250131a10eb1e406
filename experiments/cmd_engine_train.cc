// zo2 train: MeZO fine-tuning with progress lines, per-step metrics, results rows and a HuggingFace checkpoint.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cstdio>

#include "core/dtype.h"
#include "core/model_shape.h"
#include "engine/train_run.h"
#include "experiments/cmd_sim_policy_flags.h"
#include "experiments/commands.h"

namespace zo2::cli {

void add_train_command(CLI::App& app) {
  struct Args {
    TrainOptions o;
    std::string data, save, metrics, results;
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand("train", "MeZO (zeroth-order SGD) fine-tuning");
  cmd->add_option("--model", a->o.model,
                  fmt::format("HuggingFace OPT or LLaMA directory, or a preset ({}: random init)",
                              fmt::join(model_preset_names(), ", ")))
      ->required();
  cmd->add_option("--layers", a->o.layers, "keep only the first N blocks of a preset (e.g. a 175B-shaped model that "
                                          "fits host memory)");
  cmd->add_option("--steps", a->o.steps, "number of ZO steps")->required();
  cmd->add_option("--batch", a->o.batch, "sequences per step")->capture_default_str();
  cmd->add_option("--seq", a->o.seq, "tokens per sequence")->capture_default_str();
  cmd->add_option("--data", a->data, "int64 [N,T'] .npy of token ids (T' >= --seq); random tokens when absent");
  cmd->add_option("--lr", a->o.hyper.lr, "learning rate")->capture_default_str();
  cmd->add_option("--eps", a->o.hyper.eps, "perturbation scale")->capture_default_str();
  cmd->add_option("--weight-decay", a->o.hyper.weight_decay, "weight decay (skips biases and norms)")
      ->capture_default_str();
  cmd->add_option("--seed", a->o.hyper.seed, "run seed (z, data order, random init)")->capture_default_str();
  cmd->add_option("--device", a->o.device, "cpu, cuda or cuda:N")->capture_default_str();
  add_policy_options(*cmd, a->o.policy);  // --offload (default none here), --prefetch, ..., --dtype (default fp32)
  cmd->add_option("--save", a->save, "write a HuggingFace checkpoint directory at the end");
  cmd->add_option("--metrics", a->metrics, "write one CSV row per step");
  cmd->add_option("--results", a->results, "append summary rows to a results CSV (experiments/results/)");
  cmd->callback([a] {
    TrainOptions o = a->o;
    if (!a->data.empty()) o.data = a->data;
    if (!a->save.empty()) o.save = a->save;
    if (!a->metrics.empty()) o.metrics = a->metrics;
    if (!a->results.empty()) o.results = a->results;
    run_training(o, stdout);
  });
}

}  // namespace zo2::cli
