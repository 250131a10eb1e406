// Results are data: one CSV row per (configuration, metric), the same columns for the engine and the simulator.
// docs/METRICS.md defines every metric.
#pragma once
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "core/policy.h"

namespace zo2 {

// commit, date, card, driver, executor, model, batch, seq, the policy knobs in table order (dtype ... gpu_mem_budget,
// core/policy_knobs.h), metric, value, unit, repeats, min, median, max.
const std::vector<std::string>& result_columns();

struct ResultRow {
  std::map<std::string, std::string> fields;  // any of result_columns(); missing ones are written empty
  void set(const std::string& column, const std::string& value);  // throws for an unknown column
  void set(const std::string& column, double value);
  // The policy columns (every knob), spelled as the flags take them.
  void set_policy(const Policy& policy);
};

// Appends rows to `path`, writing the header when the file is new; an existing file must have the same header
// (else the error names the file and the first differing column). The file is rewritten atomically.
void append_result_rows(const std::filesystem::path& path, const std::vector<ResultRow>& rows);
// The commit (from $ZO2_COMMIT or `git rev-parse --short HEAD`, else "unknown") and today's date (UTC, ISO).
std::string current_commit();
std::string current_date_utc();

}  // namespace zo2
