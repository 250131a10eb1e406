// Helpers shared by the simulator's subcommands: loading a model by preset or directory, results rows (the columns
// of core/results_csv.h, ARCHITECTURE.md decision 8) and writing outputs atomically.
#pragma once
#include <string>
#include <vector>

#include "core/model_shape.h"
#include "core/policy.h"
#include "core/results_csv.h"
#include "simulator/metrics.h"
#include "simulator/profile.h"

namespace zo2::cli {

// PRESET (opt-125m ... opt-175b), a directory holding config.json, or a config.json file. Errors name `flag`.
ModelShape load_model(const std::string& preset_or_path, const std::string& flag = "--model");

// The configuration columns of a simulated run; commit and date are filled in once per command.
struct RunInfo {
  std::string commit, date, card, driver, executor = "sim", model;
  int64_t batch = 1, seq = 2048;
  Policy policy;
};
RunInfo run_info(const std::string& model, const sim::HardwareProfile& profile, const Policy& policy, int64_t batch,
                 int64_t seq);
// One row per metric (simulation is deterministic: repeats 1, min/median/max over the write-back cycle's steps).
std::vector<ResultRow> result_rows(const RunInfo& run, const std::vector<sim::Metric>& metrics);
// The rows as CSV text with the header, for stdout.
std::string results_csv_text(const std::vector<ResultRow>& rows);

// Writes `text` to `path` atomically, or to stdout when path is empty or "-".
void write_output(const std::string& path, const std::string& text);

}  // namespace zo2::cli
