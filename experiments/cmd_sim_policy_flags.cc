// CLI11 options for the policy knobs; parsing of their values lives in core/policy.cc so every front end agrees.
#include "experiments/cmd_sim_policy_flags.h"

#include <CLI/CLI.hpp>

namespace zo2::cli {

void add_policy_options(CLI::App& app, PolicyOptions& o) {
  app.add_option("--offload", o.offload, "blocks kept in host memory: all, none or a list like 0-5,8,10-11")
      ->capture_default_str();
  app.add_option("--prefetch", o.prefetch, "blocks uploaded ahead of the one computing (>= 0)")->capture_default_str();
  app.add_option("--slots", o.slots, "reuse: fixed reusable GPU slots; alloc: allocate per upload")
      ->capture_default_str();
  app.add_option("--overlap", o.overlap, "on: h2d, compute and d2h queues overlap; off: one queue")
      ->capture_default_str();
  app.add_option("--dtype", o.dtype, "compute format on the GPU: fp32, bf16 or fp16")->capture_default_str();
  app.add_option("--wire", o.wire, "format on the link: fp32, bf16, fp16 or fp8 (default: --dtype)");
  app.add_option("--master", o.master, "host master format: fp32, bf16 or fp16 (default: --dtype)");
  app.add_option("--writeback", o.writeback, "copy a block back every K steps (K >= 1)")->capture_default_str();
  app.add_option("--prefetch-next", o.prefetch_next,
                 "on: upload the next step's first blocks while this step's last block and head compute")
      ->capture_default_str();
  app.add_option("--fold-update", o.fold_update,
                 "on: blocks that stay on the GPU apply a step's update in its restore pass, after the loss; off: ZO2's "
                 "order (the update waits for the next step's first pass)")
      ->capture_default_str();
  app.add_option("--gpu-mem-budget", o.gpu_mem_budget,
                 "refuse a plan whose predicted GPU memory exceeds this (bytes, or 40GB, 40GiB; 0 = none)")
      ->capture_default_str();
}

}  // namespace zo2::cli
