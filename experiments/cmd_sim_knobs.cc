// `zo2 knobs`: the policy knob table (core/policy_knobs.h) and the results columns, as a table or as JSON for the
// Python analysis (analysis/knobs.json is this command's JSON output, checked by tests/simulator/test_knobs.cc).
#include <memory>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/policy.h"
#include "core/results_csv.h"
#include "experiments/cmd_sim_common.h"
#include "experiments/commands.h"

namespace zo2::cli {

namespace {

nlohmann::json knobs_json() {
  const PolicyGrid tried = search_defaults();
  nlohmann::json tried_json = nlohmann::json::object();
#define ZO2_X(name, Kind, option, value, flag, help, legacy, search, tried_values) tried_json[#name] = tried.name;
  ZO2_POLICY_KNOBS(ZO2_X)
#undef ZO2_X
  nlohmann::json knobs = nlohmann::json::array();
  for (const auto& k : policy_knobs()) {
    nlohmann::json e{{"name", k.name},
                     {"flag", k.flag},
                     {"kind", k.kind},
                     {"help", k.help},
                     {"default", k.option_default},
                     {"search", search_role_name(k.search)},
                     {"tried", tried_json[std::string(k.name)]}};
    // What a results row written before the column existed ran (analysis/results_rows.py fills it in).
    if (!k.legacy.empty()) e["legacy"] = k.legacy;
    knobs.push_back(e);
  }
  return {{"schema", "zo2-knobs/1"}, {"knobs", knobs}, {"result_columns", result_columns()}};
}

std::string knobs_table() {
  std::string s = fmt::format("{:<16} {:<18} {:<8} {:<8} {:<14} {}\n", "knob", "flag", "kind", "default", "search",
                              "help");
  for (const auto& k : policy_knobs())
    s += fmt::format("{:<16} {:<18} {:<8} {:<8} {:<14} {}\n", k.name, k.flag, k.kind,
                     k.option_default.empty() ? "(dtype)" : k.option_default, search_role_name(k.search), k.help);
  return s;
}

}  // namespace

void add_knobs_command(CLI::App& app) {
  struct Args {
    std::string format = "table", out;
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand("knobs", "list the policy knobs (flags, JSON keys, results columns, search roles)");
  cmd->add_option("--format", a->format, "output format")->check(CLI::IsMember({"table", "json"}))->capture_default_str();
  cmd->add_option("--out", a->out, "write the output to this file (atomically) instead of stdout");
  cmd->callback([a] { write_output(a->out, a->format == "json" ? knobs_json().dump(2) + "\n" : knobs_table()); });
}

}  // namespace zo2::cli
