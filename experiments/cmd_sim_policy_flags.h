// The policy flags shared by `zo2 train`, `zo2 simulate`, `zo2 sweep` and `zo2 plan` (same names, same meaning).
#pragma once
#include "core/policy.h"

namespace CLI {
class App;
}

namespace zo2::cli {

// Adds one flag per policy knob (core/policy_knobs.h: --dtype, --offload, ..., --gpu-mem-budget) to `app`, writing
// into `options`. Values are checked by zo2::resolve_policy once the model's layer count is known;
// its errors name the flag and the expected value.
void add_policy_options(CLI::App& app, PolicyOptions& options);

}  // namespace zo2::cli
