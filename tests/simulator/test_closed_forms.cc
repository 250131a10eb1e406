// Closed forms the simulator must reproduce: compute-free = bytes / bandwidth, copy-free = sum of compute, full
// overlap (FlexGen's per-layer max with the concurrent rate while both directions are busy), --slots alloc as the CUDA
// executor runs it (allocations in the compute stream, each block's compute after the previous copy back; the peak in
// program order), measured embed/head/resident-loop timings, the folded update's costs. Tolerance: 1 ns per op (each
// op's duration is rounded to the nanosecond).
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_floating_point.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <random>

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

// A flat profile with measured block and model timings for `shape` (fp16, batch 1, seq 256), drawn fresh around
// fixed magnitudes so that a swapped field cannot pass by coincidence.
struct Measured {
  HardwareProfile prof;
  BlockTiming bt;
  ModelTiming mt;
};
Measured measured(const ModelShape& shape, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> u(0.5, 1.5);
  Measured m{flat_profile(),
             {shape.hidden, shape.ffn, shape.heads, DType::f16, 1, 256, 300e-6 * u(rng), 90e-6 * u(rng), 40e-6 * u(rng)},
             {shape.hidden, shape.vocab_size, shape.word_embed_proj_dim, DType::f16, 1, 256, 20e-6 * u(rng),
              500e-6 * u(rng)}};
  m.prof.host_sync_seconds = 25e-6 * u(rng);
  return m;
}

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

TEST_CASE("compute-free, write-back every step, prefetch-next: the link never idles between steps", "[closed-form]") {
  // Without the knob the first upload and the last copy back run alone in every step (the case above); with it the
  // next step's first upload runs beside this step's last copy back, so in the steady state every step moves n
  // blocks each way with both directions busy: n b / (r1 f).
  const ModelShape shape = small_shape(9);
  const double r1 = 50e9, f = 0.8;
  const HardwareProfile prof = compute_free(flat_profile(r1, f));
  for (int64_t d : {0, 1, 3}) {
    Policy p = policy("all", d, 1, 9);
    p.prefetch_next = true;
    const CycleResult c = simulate_cycle(shape, p, 1, 256, prof);
    REQUIRE(c.steps.size() == 1);
    REQUIRE(c.plans[0].continues);
    const double b = double(c.plans[0].wire_block_bytes);
    CHECK_THAT(c.steps[0].seconds(), WithinAbs(9 * b / (r1 * f), 3 * tolerance(c.plans[0])));
    CHECK_THAT(double(c.steps[0].link_both_busy_ns) * 1e-9, WithinAbs(9 * b / (r1 * f), 3 * tolerance(c.plans[0])));
    CHECK(c.steps[0].h2d_bytes == 9 * c.plans[0].wire_block_bytes);  // 9 - (d+1) uploads for it, d+1 for the next
  }
}

TEST_CASE("prefetch-next: a chain of steps settles into a steady state; step 0 is the step without the knob",
          "[closed-form]") {
  const ModelShape shape = model_preset("opt-1.3b");
  const HardwareProfile prof = load_profile("h200-measured");
  Policy p = policy("all", 2, 1, 24);
  p.prefetch_next = true;
  CycleOptions o;
  o.first_step = 0;
  o.step_count = 24;
  const CycleResult c = simulate_cycle(shape, p, 1, 2048, prof, o);
  // Step 0 uploads its own first blocks, as without the knob, and reaches its loss when that step does; its early
  // uploads end after the loss, and the step (zo2 train synchronizes the device) ends with its last op.
  Policy off = p;
  off.prefetch_next = false;
  const Plan& first = c.plans[0];
  const Plan off_plan = build_plan(shape, off, 1, 2048, 0);
  const SimResult alone = simulate(off_plan, prof);
  const TimeNs loss_end = c.steps[0].timeline[size_t(first.find("loss"))].end;
  CHECK(loss_end == alone.timeline[size_t(off_plan.find("loss"))].end);
  CHECK(c.steps[0].timeline[size_t(first.find("h2d/next/L02"))].end > loss_end);
  TimeNs last_end = 0;
  for (const OpTiming& t : c.steps[0].timeline) last_end = std::max(last_end, t.end);
  CHECK(c.steps[0].makespan_ns == last_end);
  // The link falls behind the GPU by a little more each step until the lag settles (here within 8 steps).
  for (size_t s = 8; s < c.steps.size(); ++s) CHECK(c.steps[s].makespan_ns == c.steps[8].makespan_ns);
  CHECK(c.steps[8].makespan_ns < alone.makespan_ns);
  // The default cycle measures that steady state, and so does a window given by steps.
  CHECK(simulate_cycle(shape, p, 1, 2048, prof).steps[0].makespan_ns == c.steps[16].makespan_ns);
  o.first_step = 12;
  o.step_count = 2;
  CHECK(simulate_cycle(shape, p, 1, 2048, prof, o).steps[1].makespan_ns == c.steps[13].makespan_ns);
}

TEST_CASE("copy-free: step = the sum of compute", "[closed-form]") {
  const ModelShape shape = small_shape(6);
  HardwareProfile prof = flat_profile();
  prof.launch_overhead_seconds = 4e-6;
  prof.host_sync_seconds = 30e-6;
  for (const char* dtype : {"fp16", "fp32"}) {
    const Plan plan = build_plan(shape, policy("none", 1, 1, 6, dtype), 2, 384);
    // Every compute op in a row, then the host's wait for the losses: the CUDA executor reads them on the compute
    // stream, after its last op (zo=/head).
    double expect = prof.host_sync_seconds;
    for (const auto& op : plan.ops)
      if (op.queue == Queue::compute) expect += roofline(op, prof, plan.policy.dtype);
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

TEST_CASE("slots alloc: each allocation sits in the compute stream, each free waits for its copy back", "[closed-form]") {
  const ModelShape shape = small_shape(5);
  // Overlap off: everything is in one stream, so each upload adds its allocation's cost.
  const HardwareProfile prof = compute_free(flat_profile());
  const Plan reuse = build_plan(shape, policy("all", 1, 1, 5, "fp16", "", "", "reuse", "off"), 1, 128);
  const Plan alloc = build_plan(shape, policy("all", 1, 1, 5, "fp16", "", "", "alloc", "off"), 1, 128);
  const double extra = simulate(alloc, prof).seconds() - simulate(reuse, prof).seconds();
  CHECK_THAT(extra, WithinAbs(5 * prof.malloc_free_seconds.at(double(alloc.slot_bytes)), tolerance(alloc)));

  // Overlap on: the CUDA executor runs alloc and free on the host and records them on the compute stream, so free/Lj
  // (after d2h/Lj) holds the next block's compute until the copy back is done. With copies U >= the allocation a,
  // full-duplex links (factor 1), compute C per block, resident group R before and head H after:
  //   step = R + a + n (U + C) + U + H.
  HardwareProfile duplex = flat_profile(10e9, 1.0);
  duplex.malloc_free_seconds.points = {{1e6, 20e-6}};
  const int n = 5;
  const Plan on = build_plan(shape, policy("all", 1, 1, n, "fp16", "", "", "alloc"), 1, 512);
  const double U = double(on.wire_block_bytes) / 10e9, a = 20e-6;
  REQUIRE(U >= a);
  double R = 0, C = 0, H = 0;
  for (const auto& op : on.ops) {
    if (op.queue != Queue::compute) continue;
    const double t = roofline(op, duplex, DType::f16);
    if (op.layer < 0) (op.name.find("head") == std::string::npos ? R : H) += t;
    else if (op.layer == 0) C += t;
  }
  const SimResult r = simulate(on, duplex);
  CHECK_THAT(r.seconds(), WithinAbs(R + a + n * (U + C) + U + H, tolerance(on)));
  // Each block's compute starts after the previous block's copy back ends.
  for (int j = 1; j < n; ++j)
    CHECK(r.timeline[size_t(on.find(fmt::format("zo+/L{:02d}", j)))].start >=
          r.timeline[size_t(on.find(fmt::format("d2h/L{:02d}", j - 1)))].end);
  // Slots reuse overlaps the copy back with the next block's compute instead.
  const Plan on_reuse = build_plan(shape, policy("all", 1, 1, n), 1, 512);
  CHECK(simulate(on_reuse, duplex).seconds() < r.seconds() - (n - 1) * std::min(U, C) + tolerance(on));
}

TEST_CASE("slots alloc: the peak counts the buffers live at once in the host's program order", "[closed-form]") {
  // Block j's forward is enqueued with blocks j..j+D allocated; block j+D+1 is allocated before block j is freed, so
  // D+2 are live at that moment and none when the head runs (n > D+1 blocks, written back every step).
  const ModelShape shape = small_shape(6);
  const HardwareProfile prof = flat_profile();
  for (int64_t d : {0, 1, 2, 3}) {
    const Plan plan = build_plan(shape, policy("all", d, 1, 6, "fp16", "", "", "alloc"), 1, 256);
    const int64_t slot = plan.slot_bytes;
    CHECK(plan.memory.alloc.any == (d + 2) * slot);
    CHECK(plan.memory.alloc.forward == (d + 1) * slot);
    CHECK(plan.memory.alloc.head == 0);
    const int64_t always = plan.memory.gpu_live_sum(Live::always);
    const int64_t expect = always + std::max({(d + 2) * slot, (d + 1) * slot + plan.memory.gpu_term("layer_workspace"),
                                              plan.memory.gpu_term("logits")});
    CHECK(simulate(plan, prof).peak_gpu_bytes == expect);
    // With --slots reuse every slot is held all step; the transients still never add up.
    const Plan reuse = build_plan(shape, policy("all", d, 1, 6), 1, 256);
    CHECK(simulate(reuse, prof).peak_gpu_bytes ==
          reuse.memory.gpu_live_sum(Live::always) +
              std::max(reuse.memory.gpu_term("layer_workspace"), reuse.memory.gpu_term("logits")));
    CHECK(reuse.memory.gpu_term("slots") == std::min<int64_t>(d + 2, 6) * slot);
  }
}

TEST_CASE("measured embed, head and block timings: a resident step is their sum", "[closed-form]") {
  // Fresh random timings each run, so a swapped field cannot pass by coincidence. Tolerance: 1 ns per op.
  std::mt19937_64 rng(std::random_device{}());
  std::uniform_real_distribution<double> u(0.5, 1.5);
  const ModelShape shape = small_shape(4);
  const auto [base, bt, mt] = measured(shape, rng);
  HardwareProfile prof = base;
  prof.block_timings.push_back(bt);
  prof.model_timings.push_back(mt);
  const Plan plan = build_plan(shape, policy("none", 1, 1, 4), 1, 256);
  // A ZO pass streams its slab: over the resident group it takes the block pass's time per element.
  const double per_elt_update = bt.zo_update_seconds / double(shape.block_params());
  const double per_elt_perturb = bt.zo_perturb_seconds / double(shape.block_params());
  const double res = double(shape.resident_params());
  const double resident_side = res * per_elt_update + 2 * res * per_elt_perturb + 2 * mt.embed_seconds;
  const double head_side = 3 * res * per_elt_perturb + 2 * mt.head_loss_seconds;
  const double blocks = 4 * bt.isolated_block_seconds();
  const SimResult r = simulate(plan, prof);
  CHECK_THAT(r.seconds(), WithinAbs(resident_side + blocks + head_side + prof.host_sync_seconds, tolerance(plan)));
  CHECK_THAT(double(r.timeline[size_t(plan.find("head/fwd-"))].end - r.timeline[size_t(plan.find("head/fwd-"))].start),
             WithinAbs(mt.head_loss_seconds * 1e9, 1.0));
  // A model timing for another shape, batch or seq is not used: the roofline times those ops.
  HardwareProfile other = prof;
  other.model_timings[0].seq = 512;
  const SimResult ro = simulate(plan, other);
  CHECK(ro.timeline[size_t(plan.find("embed/fwd+"))].end - ro.timeline[size_t(plan.find("embed/fwd+"))].start !=
        r.timeline[size_t(plan.find("embed/fwd+"))].end - r.timeline[size_t(plan.find("embed/fwd+"))].start);

  // With the resident loop measured, each resident block costs resident_block_seconds; offloaded blocks keep the
  // single-shot timings.
  HardwareProfile loop = prof;
  loop.block_timings[0].resident_block_seconds = bt.isolated_block_seconds() * (1.0 + 0.2 * u(rng));
  const SimResult rl = simulate(plan, loop);
  CHECK_THAT(rl.seconds(), WithinAbs(resident_side + 4 * loop.block_timings[0].resident_block_seconds + head_side +
                                         prof.host_sync_seconds,
                                     tolerance(plan)));
  const Plan half = build_plan(shape, policy("2-3", 1, 1, 4, "fp16", "", "", "reuse", "off"), 1, 256);
  const SimResult h0 = simulate(half, prof), h1 = simulate(half, loop);
  const double extra = 2 * (loop.block_timings[0].resident_block_seconds - bt.isolated_block_seconds());
  CHECK_THAT(h1.seconds() - h0.seconds(), WithinAbs(extra, tolerance(half)));
  CHECK(h1.timeline[size_t(half.find("fwd+/L02"))].end - h1.timeline[size_t(half.find("fwd+/L02"))].start ==
        h0.timeline[size_t(half.find("fwd+/L02"))].end - h0.timeline[size_t(half.find("fwd+/L02"))].start);
}

TEST_CASE("fold update: a resident block's zo= costs the fold, its zo+ the perturbation", "[closed-form]") {
  // Fully resident, measured times (fresh random each run): with --fold-update on, zo+ of every block and of the
  // resident group is +eps only (zo_perturb_seconds), the zo= of the blocks and of the head side fold this step's
  // update after the loss (zo_fold_seconds); off, zo+ applies the pending update (zo_update_seconds) and zo= restores.
  std::mt19937_64 rng(std::random_device{}());
  std::uniform_real_distribution<double> u(0.5, 1.5);
  const ModelShape shape = small_shape(4);
  auto [prof, bt, mt] = measured(shape, rng);
  bt.zo_fold_seconds = 0.5 * bt.zo_update_seconds * u(rng);  // below zo_update (one z where it has two), never equal
  prof.block_timings.push_back(bt);
  prof.model_timings.push_back(mt);
  auto resident_plan = [&](const char* fold) {
    PolicyOptions o;
    o.offload = "none";
    o.fold_update = fold;
    return build_plan(shape, resolve_policy(o, shape.layers), 1, 256);
  };
  auto duration = [](const SimResult& r, const Plan& plan, const std::string& name) {
    const int i = plan.find(name);
    REQUIRE(i >= 0);
    return double(r.timeline[size_t(i)].end - r.timeline[size_t(i)].start) * 1e-9;
  };
  const double res = double(shape.resident_params()) / double(shape.block_params());  // the group in block passes

  const Plan on = resident_plan("on");
  const SimResult ron = simulate(on, prof);
  const int loss = on.find("loss");
  for (int64_t l = 0; l < shape.layers; ++l) {
    const std::string tag = fmt::format("L{:02d}", l);
    CHECK(on.ops[size_t(on.find("zo+/" + tag))].kind == OpKind::zo_perturb);
    CHECK(on.ops[size_t(on.find("zo=/" + tag))].kind == OpKind::zo_fold);
    CHECK_THAT(duration(ron, on, "zo+/" + tag), WithinAbs(bt.zo_perturb_seconds, 1e-9));
    CHECK_THAT(duration(ron, on, "zo=/" + tag), WithinAbs(bt.zo_fold_seconds, 1e-9));
    CHECK(ron.timeline[size_t(on.find("zo=/" + tag))].start >= ron.timeline[size_t(loss)].end);
  }
  CHECK_THAT(duration(ron, on, "zo+/resident"), WithinAbs(res * bt.zo_perturb_seconds, 1e-9));
  CHECK_THAT(duration(ron, on, "zo=/head"), WithinAbs(res * bt.zo_fold_seconds, 1e-9));
  CHECK(ron.timeline[size_t(on.find("zo=/head"))].start >= ron.timeline[size_t(loss)].end);
  // The whole step: the group's 5 perturb passes (zo+, zo-, zo= on the embedding side; zo+, zo- on the head side) and
  // its fold, 2 perturb passes, 2 forwards and the fold per block, the embeddings, the heads and the loss read.
  const double step_on = 5 * res * bt.zo_perturb_seconds + res * bt.zo_fold_seconds + 2 * mt.embed_seconds +
                         2 * mt.head_loss_seconds + 4 * (2 * bt.zo_perturb_seconds + 2 * bt.forward_seconds +
                                                         bt.zo_fold_seconds) +
                         prof.host_sync_seconds;
  CHECK_THAT(ron.seconds(), WithinAbs(step_on, tolerance(on)));

  const Plan off = resident_plan("off");
  const SimResult roff = simulate(off, prof);
  for (int64_t l = 0; l < shape.layers; ++l) {
    const std::string tag = fmt::format("L{:02d}", l);
    CHECK(off.ops[size_t(off.find("zo+/" + tag))].kind == OpKind::zo_update);
    CHECK(off.ops[size_t(off.find("zo=/" + tag))].kind == OpKind::zo_restore);
    CHECK_THAT(duration(roff, off, "zo+/" + tag), WithinAbs(bt.zo_update_seconds, 1e-9));
    CHECK_THAT(duration(roff, off, "zo=/" + tag), WithinAbs(bt.zo_perturb_seconds, 1e-9));
  }
  CHECK_THAT(duration(roff, off, "zo+/resident"), WithinAbs(res * bt.zo_update_seconds, 1e-9));
  CHECK_THAT(roff.seconds(), WithinAbs(res * bt.zo_update_seconds + 5 * res * bt.zo_perturb_seconds +
                                           2 * mt.embed_seconds + 2 * mt.head_loss_seconds +
                                           4 * bt.isolated_block_seconds() + prof.host_sync_seconds,
                                       tolerance(off)));

  // A profile measured before the fold: the folded restore is charged the pending-update pass (an upper bound).
  HardwareProfile old = prof;
  old.block_timings[0].zo_fold_seconds = 0;
  const SimResult rold = simulate(on, old);
  CHECK_THAT(duration(rold, on, "zo=/L02"), WithinAbs(bt.zo_update_seconds, 1e-9));
  CHECK_THAT(duration(rold, on, "zo=/head"), WithinAbs(res * bt.zo_update_seconds, 1e-9));
  // No block timings: the roofline of the op (one z per element, the slab read and written once, one kernel).
  HardwareProfile bare = prof;
  bare.block_timings.clear();
  const SimResult rbare = simulate(on, bare);
  const Op& fold = on.ops[size_t(on.find("zo=/L01"))];
  CHECK(fold.rng_samples == shape.block_params());
  CHECK_THAT(duration(rbare, on, "zo=/L01"), WithinAbs(roofline(fold, bare, DType::f16), 1e-9));

  // The resident loop measured folded: each resident block costs resident_block_seconds, its single-shot ops scaled
  // by resident_block_seconds / (2 zo_perturb + zo_fold + 2 forward).
  HardwareProfile loop = prof;
  loop.block_timings[0].resident_loop = ResidentLoop::folded;
  loop.block_timings[0].resident_block_seconds = loop.block_timings[0].isolated_block_seconds() * (1.0 + 0.2 * u(rng));
  CHECK_THAT(loop.block_timings[0].isolated_block_seconds(),
             WithinAbs(2 * bt.zo_perturb_seconds + bt.zo_fold_seconds + 2 * bt.forward_seconds, 1e-15));
  const SimResult rl = simulate(on, loop);
  CHECK_THAT(rl.seconds(), WithinAbs(step_on - 4 * (2 * bt.zo_perturb_seconds + 2 * bt.forward_seconds +
                                                     bt.zo_fold_seconds) +
                                         4 * loop.block_timings[0].resident_block_seconds,
                                     tolerance(on)));
  // The same number read as a pending loop scales by another sum (zo_update in place of zo_fold).
  HardwareProfile pending = loop;
  pending.block_timings[0].resident_loop = ResidentLoop::pending;
  CHECK(std::abs(simulate(on, pending).seconds() - rl.seconds()) > 1e-9);
}
