// zo2 calibrate on the GPU, small sizes: every measured quantity comes out positive and plausible, and the profile
// carries a block timing for each model. Skipped without a GPU (and absent from builds without CUDA).
#include "catch_aten.h"
#include <catch2/matchers/catch_matchers_string.hpp>

#include <nlohmann/json.hpp>

#include "engine/cuda_glue.h"
#ifdef ZO2_HAVE_CUDA
#include "engine/calibrate.h"
#include "simulator/calibration_profile.h"
#endif

using namespace zo2;

TEST_CASE("calibrate measures a small profile on the GPU", "[calibrate][gpu]") {
  if (!cuda_available()) SKIP("no GPU on this machine");
#ifdef ZO2_HAVE_CUDA
  CalibrateOptions o;
  o.name = "smoke";
  o.models = {"opt-125m", "opt-350m"};
  o.batch = 1;
  o.seq = 128;
  o.warmup = 1;
  o.repeats = 3;
  o.copy_sizes = {1 << 20, 8 << 20};
  o.concurrent_bytes = 8 << 20;
  o.alloc_sizes = {1 << 20};
  o.gemm_size = 1024;
  o.device_copy_bytes = 64 << 20;
  o.host_update_elements = 1 << 20;
  o.resident_seconds = 0.2;
  o.verbose = false;
  const CalibrationMeasurements m = measure_hardware(o);
  CHECK(m.card != "cpu");
  CHECK(m.gpu_memory_bytes > 0);
  CHECK(m.host_memory_bytes > 0);
  // Link rates between 100 MB/s and 2 TB/s: anything outside is a timing bug, not a machine.
  for (const auto* table : {&m.h2d_pinned, &m.d2h_pinned, &m.h2d_pageable, &m.d2h_pageable}) {
    REQUIRE(table->size() == 2);
    for (const auto& [bytes, rate] : *table) {
      CHECK(rate > 1e8);
      CHECK(rate < 2e12);
    }
  }
  CHECK(m.concurrent_bytes_per_second > 1e8);
  CHECK(m.launch_overhead_seconds > 0);
  CHECK(m.launch_overhead_seconds < 1e-3);
  CHECK(m.host_sync_seconds > 0);
  CHECK(m.host_update_elements_per_second > 0);
  CHECK(m.device_copy_bytes_per_second > 1e10);
  for (const auto& [dt, rate] : m.gemm_flops_per_second) CHECK(rate > 1e11);
  // The listed size and both block sizes (opt-125m's and opt-350m's).
  CHECK(m.caching_alloc_seconds.size() == 3);
  CHECK(m.cuda_malloc_free_seconds.size() == 3);
  REQUIRE(m.blocks.size() == 2);
  for (const auto& b : m.blocks) {
    CHECK(b.forward_seconds > 0);
    CHECK(b.zo_update_seconds > 0);
    CHECK(b.zo_perturb_seconds > 0);
    CHECK(b.zo_fold_seconds > 0);
    // The resident loop over the model's blocks, in the folded order (zo+ perturb only, fwd+, zo-, fwd-, zo= folded):
    // within a factor 3 of its single-shot ops (a timing bug, not a GPU, lands outside).
    CHECK(b.resident_loop == "folded");
    const double isolated = 2 * b.zo_perturb_seconds + b.zo_fold_seconds + 2 * b.forward_seconds;
    CHECK(b.isolated_block_seconds() == isolated);
    CHECK(b.resident_slabs > 1);
    CHECK(b.resident_block_seconds > isolated / 3);
    CHECK(b.resident_block_seconds < isolated * 3);
    CHECK(b.one_slab_block_seconds > isolated / 3);
  }
  REQUIRE(m.model_timings.size() == 2);
  for (const auto& t : m.model_timings) {
    CHECK(t.embed_seconds > 0);
    CHECK(t.head_loss_seconds > 0);
  }
  const nlohmann::json j = calibration_profile_json(m);
  CHECK(j["schema"] == "zo2-hardware-profile/1");
  CHECK(j["block_timings"].size() == 2);
  CHECK(j["block_timings"][0]["seq"] == 128);
  CHECK(j["block_timings"][0]["resident_block_seconds"].get<double>() > 0);
  CHECK(j["block_timings"][0]["resident_loop"] == "folded");
  CHECK(j["block_timings"][0]["zo_fold_seconds"].get<double>() > 0);
  CHECK(j["calibration"]["blocks"][0]["zo_fold_GBps"].get<double>() > 0);
  CHECK(j["model_timings"].size() == 2);
  for (const char* dt : {"fp16", "bf16", "fp32"}) {
    CHECK(j["forward_efficiency"][dt]["value"].get<double>() > 0);
    CHECK(j["forward_efficiency"][dt]["value"].get<double>() <= 1);
  }
#endif
}

TEST_CASE("calibrate rejects bad options naming the flag", "[calibrate]") {
#ifdef ZO2_HAVE_CUDA
  CalibrateOptions o;
  o.models = {"opt-7b"};
  CHECK_THROWS_WITH(measure_hardware(o), Catch::Matchers::ContainsSubstring("--models"));
  o.models = {"opt-125m"};
  o.seq = 4096;
  CHECK_THROWS_WITH(measure_hardware(o), Catch::Matchers::ContainsSubstring("--seq"));
  o.seq = 128;
  o.alloc_field = "malloc";
  CHECK_THROWS_WITH(measure_hardware(o), Catch::Matchers::ContainsSubstring("--alloc-field"));
  o.alloc_field = "engine";
  o.resident_seconds = -1;
  CHECK_THROWS_WITH(measure_hardware(o), Catch::Matchers::ContainsSubstring("--resident-seconds") &&
                                             Catch::Matchers::ContainsSubstring(">= 0"));
#else
  SKIP("built without CUDA");
#endif
}
