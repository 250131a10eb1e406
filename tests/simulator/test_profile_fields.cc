// Every time-related field of a profile changes the simulated step when the step depends on it (the capacities
// change whether the step fits instead). The block-timing fields are changed under a fully resident policy (the
// default --fold-update on: zo+ perturb only, zo= folded; off for zo_update_seconds), where each of them is read.
#include <functional>

#include <catch2/catch_test_macros.hpp>

#include "core/model_shape.h"
#include "simulator/metrics.h"
#include "simulator/simulator.h"
#include "tests/simulator/sim_test_util.h"

using namespace zo2;
using namespace zo2::sim;
using namespace zo2::sim::testing;

namespace {

struct Scenario {
  std::string field;
  std::function<void(HardwareProfile&)> edit;
  std::string offload = "all", dtype = "fp16", wire = "", master = "", slots = "reuse", overlap = "on";
  bool pageable = false;
  bool fold_update = true;  // off: resident blocks keep ZO2's pending order (zo+ applies the update)
};

double step_seconds(const HardwareProfile& prof, const Scenario& s) {
  const ModelShape shape = model_preset("opt-1.3b");
  CycleOptions o;
  o.pageable = s.pageable;
  Policy p = policy(s.offload, 1, 1, shape.layers, s.dtype, s.wire, s.master, s.slots, s.overlap);
  p.fold_update = s.fold_update;
  return simulate_cycle(shape, p, 1, 2048, prof, o).mean_step_seconds();
}

void scale_table(SizeTable& t, double f) {
  for (auto& pt : t.points) pt.second *= f;
}

}  // namespace

TEST_CASE("each profile field changes the simulated time", "[profile]") {
  const HardwareProfile base = load_profile("h100-targets");
  HardwareProfile timed = base;  // with a measured block table matching opt-1.3b fp16 batch 1 seq 2048
  timed.block_timings.push_back(BlockTiming{2048, 8192, 32, DType::f16, 1, 2048, 4e-3, 2e-4, 1e-4});
  timed.block_timings[0].zo_fold_seconds = 1.5e-4;  // resident blocks fold their update by default (--fold-update)
  const std::vector<Scenario> scenarios = {
      {"h2d_pinned_bytes_per_second", [](auto& p) { scale_table(p.h2d_pinned, 0.5); }},
      {"d2h_pinned_bytes_per_second", [](auto& p) { scale_table(p.d2h_pinned, 0.5); }},
      {"h2d_pageable_bytes_per_second", [](auto& p) { scale_table(p.h2d_pageable, 0.5); }, "all", "fp16", "", "",
       "reuse", "on", true},
      {"d2h_pageable_bytes_per_second", [](auto& p) { scale_table(p.d2h_pageable, 0.5); }, "all", "fp16", "", "",
       "reuse", "on", true},
      {"concurrent_bytes_per_second", [](auto& p) { p.concurrent_bytes_per_second *= 0.5; }, "all", "fp16", "fp32",
       "fp32"},
      {"concurrent_copy_bytes", [](auto& p) { p.concurrent_copy_bytes = 1 << 20; }, "all", "fp16", "fp32", "fp32"},
      {"malloc_free_seconds", [](auto& p) { scale_table(p.malloc_free_seconds, 10); }, "all", "fp16", "", "", "alloc",
       "off"},
      {"gemm_flops_per_second.fp16", [](auto& p) { p.gemm_flops_per_second[DType::f16] *= 0.5; }, "none"},
      {"gemm_flops_per_second.bf16", [](auto& p) { p.gemm_flops_per_second[DType::bf16] *= 0.5; }, "none", "bf16"},
      {"gemm_flops_per_second.fp32", [](auto& p) { p.gemm_flops_per_second[DType::f32] *= 0.5; }, "none", "fp32"},
      {"forward_efficiency.fp16", [](auto& p) { p.forward_efficiency[DType::f16] *= 0.5; }, "none"},
      {"forward_efficiency.bf16", [](auto& p) { p.forward_efficiency[DType::bf16] *= 0.5; }, "none", "bf16"},
      {"forward_efficiency.fp32", [](auto& p) { p.forward_efficiency[DType::f32] *= 0.5; }, "none", "fp32"},
      {"device_copy_bytes_per_second", [](auto& p) { p.device_copy_bytes_per_second *= 0.5; }, "none"},
      {"gpu_rng_samples_per_second", [](auto& p) { p.gpu_rng_samples_per_second *= 0.5; }, "none"},
      {"launch_overhead_seconds", [](auto& p) { p.launch_overhead_seconds += 1e-5; }, "none"},
      {"host_sync_seconds", [](auto& p) { p.host_sync_seconds += 1e-3; }, "none"},
      {"host_update_elements_per_second", [](auto& p) { p.host_update_elements_per_second *= 0.5; }, "all", "fp16",
       "fp16", "fp32"},
  };
  for (const auto& s : scenarios) {
    INFO(s.field);
    HardwareProfile changed = base;
    s.edit(changed);
    CHECK(step_seconds(changed, s) != step_seconds(base, s));
  }
  const std::vector<Scenario> table_fields = {
      {"block_timings.forward_seconds", [](auto& p) { p.block_timings[0].forward_seconds *= 2; }, "none"},
      {"block_timings.zo_update_seconds", [](auto& p) { p.block_timings[0].zo_update_seconds *= 2; }, "none", "fp16",
       "", "", "reuse", "on", false, /*fold_update=*/false},
      {"block_timings.zo_perturb_seconds", [](auto& p) { p.block_timings[0].zo_perturb_seconds *= 2; }, "none"},
      {"block_timings.zo_fold_seconds", [](auto& p) { p.block_timings[0].zo_fold_seconds *= 2; }, "none"},
      {"block_timings.resident_block_seconds", [](auto& p) { p.block_timings[0].resident_block_seconds = 9e-3; },
       "none"},
  };
  for (const auto& s : table_fields) {
    INFO(s.field);
    HardwareProfile changed = timed;
    s.edit(changed);
    CHECK(step_seconds(changed, s) != step_seconds(timed, s));
  }
  // A matching table replaces the roofline.
  CHECK(step_seconds(timed, table_fields[0]) != step_seconds(base, table_fields[0]));
  // The resident loop's composition sets the sum its time is compared with (zo_fold in place of zo_update).
  HardwareProfile pending = timed, folded = timed;
  pending.block_timings[0].resident_block_seconds = folded.block_timings[0].resident_block_seconds = 9e-3;
  folded.block_timings[0].resident_loop = ResidentLoop::folded;
  CHECK(step_seconds(folded, table_fields[0]) != step_seconds(pending, table_fields[0]));
}

TEST_CASE("capacities decide whether a step fits", "[profile]") {
  const ModelShape shape = model_preset("opt-13b");
  HardwareProfile prof = load_profile("h100-targets");
  const Policy p = policy("all", 1, 1, shape.layers);
  auto fits = [&](const char* metric) {
    const auto m = cycle_metrics(simulate_cycle(shape, p, 1, 2048, prof), prof);
    return find_metric(m, metric)->value;
  };
  CHECK(fits("fits_gpu_memory") == 1.0);
  CHECK(fits("fits_host_memory") == 1.0);
  prof.gpu_memory_bytes = 1'000'000'000;
  prof.host_memory_bytes = 1'000'000'000;
  CHECK(fits("fits_gpu_memory") == 0.0);
  CHECK(fits("fits_host_memory") == 0.0);
}
