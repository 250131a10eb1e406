// zo2 forward: logits of a model for a token file.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/dtype.h"
#include "core/model_shape.h"
#include "engine/forward_run.h"
#include "experiments/commands.h"

namespace zo2::cli {

void add_forward_command(CLI::App& app) {
  struct Args {
    std::string model, input_ids, out, device = "cpu", dtype = "fp32";
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand("forward", "Logits (float32 [B,T,V] .npy) for an int64 [B,T] .npy of token ids");
  cmd->add_option("--model", args->model,
                  fmt::format("HuggingFace OPT or LLaMA directory (or a preset: {}; random init)",
                              fmt::join(model_preset_names(), ", ")))->required();
  cmd->add_option("--input-ids", args->input_ids, "int64 [B,T] .npy of token ids")->required();
  cmd->add_option("--out", args->out, "output .npy (float32 [B,T,V])")->required();
  cmd->add_option("--device", args->device, "cpu, cuda or cuda:N")->capture_default_str();
  cmd->add_option("--dtype", args->dtype, "compute format: fp32, bf16, fp16")->capture_default_str();
  cmd->callback([args] {
    run_forward(args->model, args->input_ids, args->out, args->device, parse_dtype(args->dtype, "--dtype"));
  });
}

}  // namespace zo2::cli
