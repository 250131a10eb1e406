// libFuzzer target: a `zo2 sweep` spec (experiments/specs/*.json) parsed and its policy grids expanded.
#include <nlohmann/json.hpp>

#include "core/json_file.h"
#include "fuzz/fuzz_input.h"
#include "simulator/sweep_spec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return zo2::fuzz::expect_clean([&] {
    const auto spec =
        zo2::sim::parse_sweep_spec(zo2::parse_json_text(zo2::fuzz::text(data, size), "spec.json"), "spec.json");
    if (spec.models.empty() || spec.profiles.empty() || (spec.policies.empty() && spec.searches.empty()))
      __builtin_trap();
    // The policies as the sweep resolves them for a 12-layer model (rejections are the sweep's "skipped").
    for (const auto& o : spec.policies) zo2::fuzz::expect_clean([&] { zo2::resolve_policy(o, 12); });
  });
}
