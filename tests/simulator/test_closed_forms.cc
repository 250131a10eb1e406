// Closed forms the simulator must reproduce: compute-free = bytes / bandwidth, copy-free = sum of compute, full
// overlap (FlexGen's per-layer max with the concurrent rate while both directions are busy), --slots alloc adds the
// malloc latency. Tolerance: 1 ns per op (each op's duration is rounded to the nanosecond).
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_floating_point.hpp>

#include "core/plan.h"
#include "simulator/simulator.h"
#include "tests/simulator/sim_test_util.h"

using namespace zo2;
using namespace zo2::sim;
using namespace zo2::sim::testing;
using Catch::Matchers::WithinAbs;

namespace {

// The documented roofline, written out independently of the cost model.
double roofline(const Op& op, const HardwareProfile& p, DType dt) {
  double t = 0;
  if (op.flops > 0) t = std::max(t, op.flops / (p.gemm_flops_per_second.at(dt) * p.forward_efficiency.at(dt)));
  t = std::max(t, double(op.mem_bytes) / p.device_copy_bytes_per_second);
  t = std::max(t, double(op.rng_samples) / p.gpu_rng_samples_per_second);
  return t + op.kernels * p.launch_overhead_seconds;
}

double tolerance(const Plan& plan) { return double(plan.ops.size()) * 1e-9 + 1e-12; }

}  // namespace

TEST_CASE("compute-free, nothing copied back: step = uploaded bytes / one-way rate", "[closed-form]") {
  const ModelShape shape = small_shape(10);
  const HardwareProfile prof = compute_free(flat_profile(50e9));
  for (int64_t d : {0, 1, 3}) {
    // fp16 wire below an fp32 master: the GPU copies nothing back (the host updates the master).
    const Plan plan = build_plan(shape, policy("all", d, 1, 10, "fp16", "fp16", "fp32"), 1, 512);
    const SimResult r = simulate(plan, prof);
    const double expect = 10.0 * double(plan.wire_block_bytes) / 50e9;
    CHECK_THAT(r.seconds(), WithinAbs(expect, tolerance(plan)));
    CHECK(r.d2h_bytes == 0);
    CHECK(r.h2d_bytes == 10 * plan.wire_block_bytes);
  }
}

TEST_CASE("compute-free, overlap off: uploads and copies back add up at the one-way rates", "[closed-form]") {
  const ModelShape shape = small_shape(7);
  HardwareProfile prof = compute_free(flat_profile(50e9));
  prof.d2h_pinned.points = {{1e6, 40e9}};
  const Plan plan = build_plan(shape, policy("all", 2, 1, 7, "fp16", "", "", "reuse", "off"), 1, 256);
  const SimResult r = simulate(plan, prof);
  const double b = double(plan.wire_block_bytes);
  CHECK_THAT(r.seconds(), WithinAbs(7 * b / 50e9 + 7 * b / 40e9, tolerance(plan)));
  CHECK(r.link_both_busy_ns == 0);
}

TEST_CASE("compute-free, overlap on, write-back every step: both directions at the concurrent rate", "[closed-form]") {
  const ModelShape shape = small_shape(9);
  const double r1 = 50e9, f = 0.8;
  const HardwareProfile prof = compute_free(flat_profile(r1, f));
  const Plan plan = build_plan(shape, policy("all", 1, 1, 9), 1, 256);
  const SimResult r = simulate(plan, prof);
  const double b = double(plan.wire_block_bytes);
  // The first upload and the last copy back run alone; in between each upload overlaps the previous copy back.
  const double expect = 2 * b / r1 + 8 * b / (r1 * f);
  CHECK_THAT(r.seconds(), WithinAbs(expect, tolerance(plan)));
  CHECK_THAT(double(r.link_both_busy_ns) * 1e-9, WithinAbs(8 * b / (r1 * f), tolerance(plan)));
}

TEST_CASE("copy-free: step = the sum of compute", "[closed-form]") {
  const ModelShape shape = small_shape(6);
  HardwareProfile prof = flat_profile();
  prof.launch_overhead_seconds = 4e-6;
  prof.host_sync_seconds = 30e-6;
  for (const char* dtype : {"fp16", "fp32"}) {
    const Plan plan = build_plan(shape, policy("none", 1, 1, 6, dtype), 2, 384);
    // Every compute op in a row; the host's wait for the losses overlaps the last pass (zo=/head).
    double expect = 0;
    for (const auto& op : plan.ops)
      if (op.queue == Queue::compute && op.name != "zo=/head") expect += roofline(op, prof, plan.policy.dtype);
    expect += std::max(roofline(plan.ops[size_t(plan.find("zo=/head"))], prof, plan.policy.dtype),
                       prof.host_sync_seconds);
    const SimResult r = simulate(plan, prof);
    CHECK_THAT(r.seconds(), WithinAbs(expect, tolerance(plan)));
    CHECK(r.h2d_bytes + r.d2h_bytes == 0);
    CHECK(double(r.gpu_busy_ns) / double(r.makespan_ns) > 0.9);
  }
}

TEST_CASE("full overlap, compute-bound: FlexGen's per-layer max is the compute", "[closed-form]") {
  // Per layer max(copy up, copy back, compute) = compute; only the first upload and the tail are exposed.
  const ModelShape shape = small_shape(8);
  HardwareProfile prof = flat_profile(50e9, 0.8);
  for (auto& [dt, g] : prof.gemm_flops_per_second) g = 1e12;  // slow GPU: compute dominates the copies
  const Plan plan = build_plan(shape, policy("all", 1, 1, 8), 1, 512);
  const double b = double(plan.wire_block_bytes);
  double layers = 0, head = 0, prologue = 0;
  bool after_layers = false;
  for (const auto& op : plan.ops) {
    if (op.queue != Queue::compute) continue;
    const double t = roofline(op, prof, DType::f16);
    if (op.layer >= 0) {
      layers += t;
      after_layers = true;
    } else if (after_layers) {
      head += t;
    } else {
      prologue += t;
    }
  }
  REQUIRE(prologue < b / 50e9);               // the resident group's passes hide under the first upload
  REQUIRE(layers / 8 > 2 * b / (50e9 * 0.8));  // each layer's compute exceeds its concurrent copies
  const SimResult r = simulate(plan, prof);
  CHECK_THAT(r.seconds(), WithinAbs(b / 50e9 + layers + std::max(b / 50e9, head), tolerance(plan)));
}

TEST_CASE("slots alloc adds the cudaMalloc+cudaFree latency per upload", "[closed-form]") {
  const ModelShape shape = small_shape(5);
  const HardwareProfile prof = compute_free(flat_profile());
  const Plan reuse = build_plan(shape, policy("all", 1, 1, 5, "fp16", "", "", "reuse", "off"), 1, 128);
  const Plan alloc = build_plan(shape, policy("all", 1, 1, 5, "fp16", "", "", "alloc", "off"), 1, 128);
  const double extra = simulate(alloc, prof).seconds() - simulate(reuse, prof).seconds();
  CHECK_THAT(extra, WithinAbs(5 * prof.malloc_free_seconds.at(double(alloc.slot_bytes)), tolerance(alloc)));
  // With overlap on, the allocation of a prefetched block hides behind the block being computed.
  HardwareProfile slow = flat_profile();
  for (auto& [dt, g] : slow.gemm_flops_per_second) g = 1e12;
  const Plan reuse_on = build_plan(shape, policy("all", 1, 1, 5), 1, 512);
  const Plan alloc_on = build_plan(shape, policy("all", 1, 1, 5, "fp16", "", "", "alloc"), 1, 512);
  const double extra_on = simulate(alloc_on, slow).seconds() - simulate(reuse_on, slow).seconds();
  CHECK(extra_on < 2 * slow.malloc_free_seconds.at(double(alloc_on.slot_bytes)) + tolerance(alloc_on));
}

TEST_CASE("slots alloc tracks live allocations in the peak", "[closed-form]") {
  const ModelShape shape = small_shape(6);
  const HardwareProfile prof = flat_profile();
  const Plan alloc = build_plan(shape, policy("all", 2, 1, 6, "fp16", "", "", "alloc"), 1, 256);
  const SimResult r = simulate(alloc, prof);
  const int64_t fixed = alloc.memory.gpu_total() - alloc.memory.gpu_term("slots");
  CHECK(r.peak_gpu_bytes > fixed);
  CHECK((r.peak_gpu_bytes - fixed) % alloc.slot_bytes == 0);
  CHECK(r.peak_gpu_bytes - fixed <= 6 * alloc.slot_bytes);
  const Plan reuse = build_plan(shape, policy("all", 2, 1, 6), 1, 256);
  CHECK(simulate(reuse, prof).peak_gpu_bytes == reuse.memory.gpu_total());
}
