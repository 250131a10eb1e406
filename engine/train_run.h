// A whole `zo2 train` run as a library call: model in, N MeZO steps with progress and metrics, checkpoint out.
#pragma once
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/policy.h"
#include "engine/zo_hyper.h"

namespace zo2 {

struct TrainOptions {
  std::string model = "opt-125m";  // preset or HuggingFace directory
  int64_t layers = 0;              // > 0: only the first N blocks of a preset
  int64_t steps = 10, batch = 1, seq = 2048;
  std::optional<std::filesystem::path> data;  // int64 [N, T'] .npy; random tokens when absent
  ZoHyper hyper;
  std::string device = "cpu";
  PolicyOptions policy = resident_fp32_policy();  // --offload, --prefetch, ..., --dtype

  static PolicyOptions resident_fp32_policy() {
    PolicyOptions p;
    p.offload = "none";
    p.dtype = "fp32";
    return p;
  }
  std::optional<std::filesystem::path> save, metrics, results;
};

struct StepRecord {
  StepResult result;
  double seconds = 0;  // wall time of the step, device synchronised at its end
  double tokens_per_second = 0;
};

struct TrainSummary {
  std::vector<StepRecord> steps;
  int64_t parameters = 0;
  int64_t peak_allocated_bytes = 0;  // caching allocator peak (GPU runs)
  int64_t device_used_bytes = 0;     // cudaMemGetInfo used at the end (GPU runs)
  // The peer's timing rule: statistics over the last half of the steps.
  double mean_step_seconds() const;
  double median_step_seconds() const;
};

// Throws std::invalid_argument naming the flag (--eps, --lr, --weight-decay) for a hyper-parameter MeZO cannot use.
void check_zo_hyper(const ZoHyper& hyper);

// Runs the training; prints one progress line per step to `progress` (nullptr: silent). Writes --metrics (one row per
// step), --results (summary rows) and --save at the end, each atomically; the pending update is flushed first.
TrainSummary run_training(const TrainOptions& options, std::FILE* progress);

}  // namespace zo2
