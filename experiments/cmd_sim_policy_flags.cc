// CLI11 options for the policy knobs; parsing of their values lives in core/policy.cc so every front end agrees.
#include "experiments/cmd_sim_policy_flags.h"

#include <CLI/CLI.hpp>

namespace zo2::cli {

void add_policy_options(CLI::App& app, PolicyOptions& o) {
#define ZO2_X(name, Kind, option, value, flag, help, legacy, search, tried) \
  {                                                                         \
    CLI::Option* opt = app.add_option(flag, o.name, help);                  \
    if (Kind::show_default) opt->capture_default_str();                     \
  }
  ZO2_POLICY_KNOBS(ZO2_X)
#undef ZO2_X
}

}  // namespace zo2::cli
