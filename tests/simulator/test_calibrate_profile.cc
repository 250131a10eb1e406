// What zo2 calibrate writes is what the simulator reads: the same assembler (simulator/calibration_profile.h) on fake
// measurements, loaded by the simulator's loader from a file, every value back as written; its block timings are used.
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_floating_point.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <random>

#include "core/json_file.h"
#include "core/model_shape.h"
#include "core/plan.h"
#include "core/policy.h"
#include "simulator/calibration_profile.h"
#include "simulator/cost_model.h"
#include "simulator/profile.h"

using namespace zo2;
using Catch::Matchers::ContainsSubstring;
using Catch::Matchers::WithinRel;

namespace {

// Random but plausible numbers (fresh each run), so a swapped or dropped field cannot pass by coincidence.
CalibrationMeasurements fake_measurements(std::mt19937_64& rng) {
  std::uniform_real_distribution<double> u(0.5, 1.5);
  CalibrationMeasurements m;
  m.name = "fake";
  m.card = "NVIDIA Fake 80GB";
  m.driver = "123.45.67";
  m.date = "2026-12-01";
  m.commit = "abc1234";
  m.repeats = 7;
  m.warmup = 2;
  m.gpu_memory_bytes = 85'000'000'000;
  m.host_memory_bytes = 134'000'000'000;
  for (double bytes : {1048576.0, 16777216.0, 1073741824.0}) {
    m.h2d_pinned.emplace_back(bytes, 50e9 * u(rng));
    m.d2h_pinned.emplace_back(bytes, 50e9 * u(rng));
    m.h2d_pageable.emplace_back(bytes, 18e9 * u(rng));
    m.d2h_pageable.emplace_back(bytes, 18e9 * u(rng));
    m.cuda_malloc_free_seconds.emplace_back(bytes, 150e-6 * u(rng));
    m.caching_alloc_seconds.emplace_back(bytes, 20e-6 * u(rng));
    m.caching_zeroed_seconds.emplace_back(bytes, 90e-6 * u(rng));
  }
  // Out of order and a repeated size, as a block size equal to a listed size would give: the table comes out sorted.
  std::swap(m.h2d_pinned.front(), m.h2d_pinned.back());
  m.caching_alloc_seconds.emplace_back(16777216.0, 1.0);
  m.concurrent_bytes_per_second = 90e9 * u(rng);
  m.concurrent_copy_bytes = 1073741824.0;
  m.gemm_size = 8192;
  m.gemm_flops_per_second = {{DType::f16, 700e12 * u(rng)}, {DType::bf16, 700e12 * u(rng)}, {DType::f32, 50e12 * u(rng)}};
  m.device_copy_bytes_per_second = 3e12 * u(rng);
  m.gpu_rng_samples_per_second = 400e9 * u(rng);
  m.gpu_rng_how = "fake";
  m.launch_overhead_seconds = 4e-6 * u(rng);
  m.host_sync_seconds = 20e-6 * u(rng);
  m.host_update_elements_per_second = 2e8 * u(rng);
  m.host_threads = 16;
  m.codec_block_bytes = 1 << 27;
  m.codec_decode_bytes_per_second = 7e11 * u(rng);
  m.codec_encode_bytes_per_second = 3e11 * u(rng);
  // llama-3-8b and mistral-7b-v0.3 have the same block sizes: only their family tells their records apart.
  for (const char* name : {"opt-125m", "opt-1.3b", "llama-3-8b", "mistral-7b-v0.3"}) {
    const ModelShape s = model_preset(name);
    CalibrationMeasurements::Block b;
    b.model = name;
    b.hidden = s.hidden;
    b.ffn = s.ffn;
    b.heads = s.heads;
    b.family = s.family;
    b.kv_heads = s.key_value_heads();
    b.head_dim = s.head_dim();
    b.dtype = DType::f16;
    b.batch = 1;
    b.seq = 2048;
    b.params = s.block_params();
    b.slab_bytes = 2 * b.params;
    b.forward_flops = s.block_forward_flops(1, 2048);
    b.forward_seconds = b.forward_flops / 300e12 * u(rng);
    b.zo_update_seconds = 1e-4 * u(rng);
    b.zo_perturb_seconds = 0.5e-4 * u(rng);
    b.zo_fold_seconds = 0.7e-4 * u(rng);
    if (m.blocks.empty()) {  // the resident loop measured for the first model only: the field is optional
      b.resident_slabs = s.layers;
      b.resident_seconds = 2.0;
      b.resident_loop = "folded";  // as zo2 calibrate measures it
      b.resident_block_seconds = 1.1 * (2 * b.zo_perturb_seconds + b.zo_fold_seconds + 2 * b.forward_seconds) * u(rng);
      b.one_slab_block_seconds = b.resident_block_seconds * u(rng);
    }
    m.blocks.push_back(b);
    m.model_timings.push_back({name, DType::f16, 1, 2048, 1e-4 * u(rng), 5e-3 * u(rng), s.head_forward_flops(1, 2048),
                               s.hidden, s.vocab_size, s.word_embed_proj_dim, s.family});
  }
  for (DType dt : {DType::f16, DType::bf16, DType::f32})
    m.efficiency_blocks[dt] = {m.blocks.back().model, m.blocks.back().forward_flops,
                               m.blocks.back().forward_flops / (0.5 * m.gemm_flops_per_second[dt])};
  return m;
}

void check_table(const sim::SizeTable& t, SizePoints expected) {
  std::sort(expected.begin(), expected.end());
  REQUIRE(t.points.size() == expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    CHECK(t.points[i].first == expected[i].first);
    CHECK_THAT(t.points[i].second, WithinRel(expected[i].second, 1e-12));
  }
}

}  // namespace

TEST_CASE("a calibrated profile loads in the simulator with every value as measured", "[profile][calibrate]") {
  std::mt19937_64 rng(std::random_device{}());
  const CalibrationMeasurements m = fake_measurements(rng);
  const auto path = std::filesystem::temp_directory_path() / fmt::format("zo2_calibrated_{}.json", rng());
  write_json_file_atomic(path, calibration_profile_json(m));
  const sim::HardwareProfile p = sim::load_profile(path.string());
  std::filesystem::remove(path);

  CHECK(p.name == "fake");
  CHECK(p.card == m.card);
  CHECK(p.driver == m.driver);
  CHECK(p.date == m.date);
  CHECK_THAT(p.source, ContainsSubstring("measured by zo2 calibrate"));
  CHECK(p.gpu_memory_bytes == m.gpu_memory_bytes);
  CHECK(p.host_memory_bytes == m.host_memory_bytes);
  check_table(p.h2d_pinned, m.h2d_pinned);
  check_table(p.d2h_pinned, m.d2h_pinned);
  check_table(p.h2d_pageable, m.h2d_pageable);
  check_table(p.d2h_pageable, m.d2h_pageable);
  // The engine's alloc cost by default; the size measured twice keeps its first value.
  auto alloc = m.caching_alloc_seconds;
  alloc.pop_back();
  check_table(p.malloc_free_seconds, alloc);
  CHECK_THAT(p.concurrent_bytes_per_second, WithinRel(m.concurrent_bytes_per_second, 1e-12));
  CHECK(p.concurrent_copy_bytes == m.concurrent_copy_bytes);
  for (DType dt : {DType::f16, DType::bf16, DType::f32}) {
    CHECK_THAT(p.gemm_flops_per_second.at(dt), WithinRel(m.gemm_flops_per_second.at(dt), 1e-12));
    // Inverted from the roofline: flops / ((t - 10 launches) x gemm).
    const auto& e = m.efficiency_blocks.at(dt);
    const double expected = e.forward_flops / ((e.forward_seconds - 10 * m.launch_overhead_seconds) *
                                               m.gemm_flops_per_second.at(dt));
    CHECK_THAT(p.forward_efficiency.at(dt), WithinRel(std::min(expected, 1.0), 1e-12));
  }
  CHECK_THAT(p.device_copy_bytes_per_second, WithinRel(m.device_copy_bytes_per_second, 1e-12));
  CHECK_THAT(p.gpu_rng_samples_per_second, WithinRel(m.gpu_rng_samples_per_second, 1e-12));
  CHECK_THAT(p.launch_overhead_seconds, WithinRel(m.launch_overhead_seconds, 1e-12));
  CHECK_THAT(p.host_sync_seconds, WithinRel(m.host_sync_seconds, 1e-12));
  CHECK_THAT(p.host_update_elements_per_second, WithinRel(m.host_update_elements_per_second, 1e-12));
  CHECK_THAT(p.codec_decode_bytes_per_second, WithinRel(m.codec_decode_bytes_per_second, 1e-12));
  CHECK_THAT(p.codec_encode_bytes_per_second, WithinRel(m.codec_encode_bytes_per_second, 1e-12));
  CHECK(p.sources.count("codec_decode_bytes_per_second") == 1);
  for (const auto& [field, source] : p.sources) CHECK_THAT(source, ContainsSubstring("zo2 calibrate"));

  REQUIRE(p.block_timings.size() == m.blocks.size());
  for (const auto& b : m.blocks) {
    const sim::BlockTiming* t = p.find_block_timing(model_preset(b.model), b.dtype, b.batch, b.seq);
    REQUIRE(t != nullptr);
    CHECK(t->family == b.family);
    CHECK_THAT(t->forward_seconds, WithinRel(b.forward_seconds, 1e-12));
    CHECK_THAT(t->zo_update_seconds, WithinRel(b.zo_update_seconds, 1e-12));
    CHECK_THAT(t->zo_perturb_seconds, WithinRel(b.zo_perturb_seconds, 1e-12));
    CHECK_THAT(t->resident_block_seconds, WithinRel(b.resident_block_seconds, 1e-12));  // 0 when not measured
    CHECK_THAT(t->zo_fold_seconds, WithinRel(b.zo_fold_seconds, 1e-12));
    // Which loop was measured: recorded beside the loop's time; an entry without a loop reads as the default.
    CHECK(t->resident_loop == (b.resident_block_seconds > 0 && b.resident_loop == "folded" ? sim::ResidentLoop::folded
                                                                                           : sim::ResidentLoop::pending));
    CHECK_THAT(t->isolated_block_seconds(), WithinRel(b.isolated_block_seconds(), 1e-12));
  }
  CHECK(m.blocks.front().resident_loop == "folded");
  CHECK_THAT(m.blocks.front().isolated_block_seconds(),
             WithinRel(2 * m.blocks.front().zo_perturb_seconds + m.blocks.front().zo_fold_seconds +
                           2 * m.blocks.front().forward_seconds,
                       1e-12));
  REQUIRE(p.model_timings.size() == m.model_timings.size());
  for (const auto& t : m.model_timings) {
    const sim::ModelTiming* mt = p.find_model_timing(model_preset(t.model), t.dtype, t.batch, t.seq);
    REQUIRE(mt != nullptr);
    CHECK(mt->family == t.family);
    CHECK_THAT(mt->embed_seconds, WithinRel(t.embed_seconds, 1e-12));
    CHECK_THAT(mt->head_loss_seconds, WithinRel(t.head_loss_seconds, 1e-12));
  }

  // The cost model then charges the measured times for a matching model's blocks.
  const ModelShape shape = model_preset("opt-125m");
  const Policy policy = resolve_policy(PolicyOptions{}, shape.layers);  // all offloaded, fp16
  const Plan plan = build_plan(shape, policy, 1, 2048, 0);
  const sim::CostModel cost(p, plan);
  int checked = 0;
  for (const Op& op : plan.ops)
    if (op.kind == OpKind::forward && op.layer >= 0) {
      CHECK_THAT(cost.seconds(op), WithinRel(m.blocks.front().forward_seconds, 1e-12));
      ++checked;
    }
  CHECK(checked == 2 * shape.layers);
  // ... and the measured head of a matching model.
  for (const Op& op : plan.ops)
    if (op.kind == OpKind::head) CHECK_THAT(cost.seconds(op), WithinRel(m.model_timings.front().head_loss_seconds, 1e-12));

  // Resident blocks (--fold-update on by default): zo+ the perturbation, zo= the fold, each scaled by the folded
  // loop's time over its single-shot sum; a block's five ops then add up to the loop's time.
  PolicyOptions resident;
  resident.offload = "none";
  const Plan rplan = build_plan(shape, resolve_policy(resident, shape.layers), 1, 2048, 0);
  const sim::CostModel rcost(p, rplan);
  const auto& b0 = m.blocks.front();
  const double factor = b0.resident_block_seconds / b0.isolated_block_seconds();
  int folds = 0;
  for (const Op& op : rplan.ops) {
    if (op.layer < 0) continue;
    if (op.kind == OpKind::zo_fold) {
      CHECK_THAT(rcost.seconds(op), WithinRel(b0.zo_fold_seconds * factor, 1e-12));
      ++folds;
    }
    if (op.name.rfind("zo+/", 0) == 0) {
      CHECK(op.kind == OpKind::zo_perturb);
      CHECK_THAT(rcost.seconds(op), WithinRel(b0.zo_perturb_seconds * factor, 1e-12));
    }
  }
  CHECK(folds == shape.layers);
  double block0 = 0;
  for (const Op& op : rplan.ops)
    if (op.layer == 0) block0 += rcost.seconds(op);
  CHECK_THAT(block0, WithinRel(b0.resident_block_seconds, 1e-12));

  // The record beside the profile: the fold's rate and the loop's composition.
  const nlohmann::json rec = calibration_profile_json(m)["calibration"]["blocks"];
  REQUIRE(rec.size() == m.blocks.size());
  for (size_t i = 0; i < m.blocks.size(); ++i) {
    const auto& b = m.blocks[i];
    CHECK_THAT(rec[i]["zo_fold_seconds"].get<double>(), WithinRel(b.zo_fold_seconds, 1e-12));
    CHECK_THAT(rec[i]["zo_fold_GBps"].get<double>(), WithinRel(2.0 * b.slab_bytes / b.zo_fold_seconds / 1e9, 1e-12));
    CHECK_THAT(rec[i]["isolated_block_seconds"].get<double>(), WithinRel(b.isolated_block_seconds(), 1e-12));
    CHECK(rec[i]["resident_loop"] == b.resident_loop);
    CHECK(rec[i].contains("zo_update_GBps"));  // the fields from before the fold stay
  }
}

TEST_CASE("a calibrated profile can hold the raw cudaMalloc + cudaFree cost instead", "[profile][calibrate]") {
  std::mt19937_64 rng(std::random_device{}());
  CalibrationMeasurements m = fake_measurements(rng);
  m.alloc_field = "cudamalloc";
  const nlohmann::json j = calibration_profile_json(m);
  check_table(sim::parse_profile(j, "calibrated").malloc_free_seconds, m.cuda_malloc_free_seconds);
  CHECK(j["calibration"]["caching_alloc_seconds"].size() == m.caching_alloc_seconds.size());
  m.alloc_field = "neither";
  CHECK_THROWS_WITH(calibration_profile_json(m), ContainsSubstring("alloc_field"));
  m.alloc_field = "engine";
  m.model_timings.front().vocab = 0;  // a model timing without its shape cannot key an entry
  CHECK_THROWS_WITH(calibration_profile_json(m), ContainsSubstring("model_timings[0]") && ContainsSubstring("vocab"));
  m.model_timings.front().vocab = 50272;
  // A folded loop without the fold's own time could not be compared with its single-shot sum.
  const double fold = m.blocks.front().zo_fold_seconds;
  m.blocks.front().zo_fold_seconds = 0;
  CHECK_THROWS_WITH(calibration_profile_json(m), ContainsSubstring("blocks[0]") &&
                                                     ContainsSubstring("'zo_fold_seconds'") &&
                                                     ContainsSubstring("folded"));
  m.blocks.front().zo_fold_seconds = fold;
  m.blocks.front().resident_loop = "fold";
  CHECK_THROWS_WITH(calibration_profile_json(m), ContainsSubstring("blocks[0]") &&
                                                     ContainsSubstring("'resident_loop'") &&
                                                     ContainsSubstring("\"fold\""));
  m.blocks.front().resident_loop = "pending";  // an older loop: read back as such
  {
    const sim::HardwareProfile p = sim::parse_profile(calibration_profile_json(m), "calibrated");
    CHECK(p.block_timings.front().resident_loop == sim::ResidentLoop::pending);
    CHECK_THAT(p.block_timings.front().isolated_block_seconds(),
               WithinRel(m.blocks.front().zo_update_seconds + 2 * m.blocks.front().forward_seconds +
                             2 * m.blocks.front().zo_perturb_seconds,
                         1e-12));
  }
  m.h2d_pinned.clear();
  CHECK_THROWS_WITH(calibration_profile_json(m), ContainsSubstring("h2d_pinned_bytes_per_second"));
}
