// Model loading, results rows and atomic output for the simulator's subcommands.
#include "experiments/cmd_sim_common.h"

#include <cstdio>
#include <filesystem>
#include <stdexcept>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/atomic_file.h"

namespace zo2::cli {

ModelShape load_model(const std::string& what, const std::string& flag) {
  if (is_preset_name(what)) return model_preset(what);
  std::filesystem::path path(what);
  if (std::filesystem::is_directory(path)) path /= "config.json";
  if (!std::filesystem::is_regular_file(path))
    throw std::invalid_argument(fmt::format("{}: '{}' is neither a preset ({}) nor a directory with config.json nor a "
                                            "config.json file",
                                            flag, what, fmt::join(model_preset_names(), ", ")));
  return shape_from_hf_config_file(path);
}

RunInfo run_info(const std::string& model, const sim::HardwareProfile& profile, const Policy& policy, int64_t batch,
                 int64_t seq) {
  RunInfo r;
  r.commit = current_commit();
  r.date = current_date_utc();
  r.card = profile.card;
  r.driver = profile.driver;
  r.model = model;
  r.batch = batch;
  r.seq = seq;
  r.policy = policy;
  return r;
}

std::vector<ResultRow> result_rows(const RunInfo& r, const std::vector<sim::Metric>& metrics) {
  const Policy& p = r.policy;
  ResultRow base;
  base.set("commit", r.commit);
  base.set("date", r.date);
  base.set("card", r.card);
  base.set("driver", r.driver);
  base.set("executor", r.executor);
  base.set("model", r.model);
  base.set("batch", std::to_string(r.batch));
  base.set("seq", std::to_string(r.seq));
  base.set_policy(p);
  base.set("repeats", "1");
  std::vector<ResultRow> rows;
  // Full precision: byte counts must survive the round trip through the CSV.
  auto num = [](double v) { return fmt::format("{:.12g}", v); };
  for (const auto& m : metrics) {
    ResultRow row = base;
    row.set("metric", m.name);
    row.set("value", num(m.value));
    row.set("unit", m.unit);
    row.set("min", num(m.min));
    row.set("median", num(m.median));
    row.set("max", num(m.max));
    rows.push_back(std::move(row));
  }
  return rows;
}

static std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

std::string results_csv_text(const std::vector<ResultRow>& rows) {
  const auto& cols = result_columns();
  std::string out = fmt::format("{}\n", fmt::join(cols, ","));
  for (const auto& row : rows) {
    for (size_t i = 0; i < cols.size(); ++i) {
      auto it = row.fields.find(cols[i]);
      out += (i ? "," : "") + (it == row.fields.end() ? std::string() : csv_field(it->second));
    }
    out += '\n';
  }
  return out;
}

void write_output(const std::string& path, const std::string& text) {
  if (path.empty() || path == "-") {
    std::fwrite(text.data(), 1, text.size(), stdout);
    return;
  }
  AtomicFile f(path);
  f.write(text);
  f.commit();
}

}  // namespace zo2::cli
