// Plan invariants over random policies: names, one upload per offloaded block, write-back every K steps, slots
// handed over through dependencies, memory terms, the budget refusal, and JSON round trips of edited plans.
#include <algorithm>
#include <map>
#include <random>
#include <set>

#include <catch2/catch_test_macros.hpp>
#include <fmt/format.h>
#include <catch2/matchers/catch_matchers_string.hpp>
#include <nlohmann/json.hpp>

#include "core/plan.h"
#include "core/plan_json.h"
#include "core/slab_layout.h"
#include "tests/policy_for_tests.h"

using namespace zo2;
using Catch::Matchers::ContainsSubstring;

namespace {


// A random valid policy for a model with `layers` layers.
Policy random_policy(std::mt19937& rng, int64_t layers) {
  static const char* dtypes[] = {"fp32", "fp16", "bf16"};
  static const char* wires[] = {"fp32", "fp16", "bf16", "fp8"};
  while (true) {
    PolicyOptions o;
    std::vector<bool> off(static_cast<size_t>(layers));
    const int mode = int(rng() % 4);
    for (size_t i = 0; i < off.size(); ++i) off[i] = mode == 0 ? true : mode == 1 ? false : bool(rng() % 2);
    o.offload = format_offload(off);
    o.prefetch = int64_t(rng() % 5);
    o.slots = rng() % 2 ? "reuse" : "alloc";
    o.overlap = rng() % 4 ? "on" : "off";
    o.dtype = dtypes[rng() % 3];
    o.wire = wires[rng() % 4];
    o.master = dtypes[rng() % 3];
    o.writeback = 1 + int64_t(rng() % 6);
    o.prefetch_next = rng() % 2 ? "on" : "off";
    o.fold_update = rng() % 2 ? "on" : "off";
    try {
      return resolve_policy(o, layers);
    } catch (const std::invalid_argument&) {
      continue;  // e.g. writeback > 1 with the wire below the master, --prefetch-next with --slots alloc
    }
  }
}

}  // namespace

TEST_CASE("op names follow ARCHITECTURE.md decision 6", "[plan]") {
  const ModelShape shape = model_preset("opt-125m");
  const Plan plan = build_plan(shape, testing::policy("all", 1, 1, 12), 1, 128);
  for (const char* name : {"h2d/L07", "zo+/L07", "fwd+/L07", "zo-/L07", "fwd-/L07", "zo=/L07", "d2h/L07",
                           "zo+/resident", "embed/fwd+", "embed/fwd-", "head/fwd+", "head/fwd-", "loss", "h2d/L00",
                           "fwd-/L11"})
    CHECK(plan.find(name) >= 0);
  CHECK(plan.find("replay/L07") < 0);
  CHECK(plan.find("alloc/L07") < 0);
  const Plan alloc = build_plan(shape, testing::policy("all", 1, 1, 12, "fp16", "", "", "alloc"), 1, 128);
  CHECK(alloc.find("alloc/L07") >= 0);
  CHECK(alloc.find("free/L07") >= 0);
  const Plan host = build_plan(shape, testing::policy("all", 1, 1, 12, "fp16", "fp16", "fp32"), 1, 128);
  CHECK(host.find("host/update/L07") >= 0);
  CHECK(host.find("d2h/L07") < 0);
  const Plan replay = build_plan(shape, testing::policy("all", 1, 4, 12), 1, 128, 2);
  CHECK(replay.find("replay/L00") >= 0);  // (2 + 0) % 4 = 2 updates to replay
  CHECK(replay.ops[size_t(replay.find("replay/L00"))].updates == 2);
}

TEST_CASE("the step follows ZO2's per-block order and both passes advance together", "[plan]") {
  const ModelShape shape = model_preset("opt-125m");
  const Plan plan = build_plan(shape, testing::policy("all", 0, 1, 12), 1, 64);
  std::vector<std::string> compute;
  for (const auto& op : plan.ops)
    if (op.queue == Queue::compute && op.layer == 3) compute.push_back(op.name);
  CHECK(compute == std::vector<std::string>{"zo+/L03", "fwd+/L03", "zo-/L03", "fwd-/L03", "zo=/L03"});
  auto deps_of = [&](const char* name) {
    std::set<std::string> s;
    for (int d : plan.ops[size_t(plan.find(name))].deps) s.insert(plan.ops[size_t(d)].name);
    return s;
  };
  CHECK(deps_of("zo+/L03") == std::set<std::string>{"h2d/L03"});
  CHECK(deps_of("fwd+/L03") == std::set<std::string>{"zo+/L03", "fwd+/L02"});
  CHECK(deps_of("fwd-/L03") == std::set<std::string>{"zo-/L03", "fwd-/L02"});
  CHECK(deps_of("d2h/L03") == std::set<std::string>{"zo=/L03"});
  // prefetch 0: the next upload waits for this block's compute; slot of block 1 (3 slots? no: 0 + 1 + 1 = 2) frees
  CHECK(plan.slot_count == 2);
  CHECK(deps_of("h2d/L04") == std::set<std::string>{"zo=/L03", "d2h/L02"});
  CHECK(deps_of("loss") == std::set<std::string>{"head/fwd+", "head/fwd-"});
}

TEST_CASE("plan invariants hold for random policies", "[plan]") {
  std::mt19937 rng(std::random_device{}());
  const ModelShape shape = model_preset("opt-125m");
  for (int trial = 0; trial < 300; ++trial) {
    const Policy p = random_policy(rng, shape.layers);
    const int64_t step = int64_t(rng() % 20);
    INFO("policy " << policy_to_json(p).dump() << " step " << step);
    // The plan of `step` as a run builds it: with --prefetch-next it continues the plan of the step before.
    const std::vector<Plan> chain =
        build_plan_sequence(shape, p, 1 + int64_t(rng() % 4), 16 + int64_t(rng() % 512), std::max<int64_t>(step - 1, 0),
                            step > 0 ? 2 : 1);
    const Plan& plan = chain.back();
    const Plan* previous = chain.size() > 1 ? &chain.front() : nullptr;
    REQUIRE_NOTHROW(plan.validate(previous));
    REQUIRE_NOTHROW(plan.validate());
    const int64_t n_off = p.offloaded_count();
    CHECK(plan.continues == (p.prefetch_next && n_off > 0 && step > 0));
    std::map<int64_t, int> uploads, downloads, updates;
    std::vector<int64_t> early;
    for (const auto& op : plan.ops) {
      if (op.kind == OpKind::upload && op.next_step) early.push_back(op.layer);
      else if (op.kind == OpKind::upload) ++uploads[op.layer];
      if (op.kind == OpKind::download) ++downloads[op.layer];
      if (op.kind == OpKind::host_update) ++updates[op.layer];
      if (!p.overlap) CHECK(op.queue == Queue::compute);
      if (op.kind == OpKind::upload || op.kind == OpKind::download) CHECK(op.link_bytes == plan.wire_block_bytes);
    }
    // The next step's first blocks, in order, as many as a step uploads before its first compute.
    std::vector<int64_t> first_blocks;
    for (int64_t l = 0; l < shape.layers && p.prefetch_next && int64_t(first_blocks.size()) <= p.prefetch; ++l)
      if (p.offload[size_t(l)]) first_blocks.push_back(l);
    CHECK(early == first_blocks);
    if (plan.continues)
      for (const auto& op : previous->ops)
        if (op.next_step) ++uploads[op.layer];  // the previous step uploaded them for this one
    for (int64_t l = 0; l < shape.layers; ++l) {
      const bool off = p.offload[size_t(l)];
      CHECK(uploads[l] == (off ? 1 : 0));  // each offloaded block uploaded exactly once per step
      const bool due = off && p.gpu_writes_back() && writeback_due(l, step, p.writeback);
      CHECK(downloads[l] == (due ? 1 : 0));
      CHECK(updates[l] == (off && !p.gpu_writes_back() ? 1 : 0));
      const int r = plan.find(fmt::format("replay/L{:02d}", l));
      const int64_t replays = off && p.gpu_writes_back() ? replays_due(l, step, p.writeback) : 0;
      CHECK((r >= 0) == (replays > 0));
      if (r >= 0) CHECK(plan.ops[size_t(r)].updates == replays);
    }
    // The total is the always-live terms plus the largest moment: a forward's workspace or the loss's logits, each
    // with the per-upload buffers live while it is enqueued, an fp8 decode with all of them, or the most per-upload
    // buffers at once.
    int64_t always = 0;
    for (const auto& t : plan.memory.gpu)
      if (t.live == Live::always) always += t.bytes;
    const AllocLive& a = plan.memory.alloc;
    CHECK(plan.memory.gpu_total() == always + std::max({a.any, a.forward + plan.memory.gpu_term("layer_workspace"),
                                                        a.head + plan.memory.gpu_term("logits"),
                                                        a.any + plan.memory.gpu_term("wire_decode")}));
    // Decoding fp8 widens a padded block to fp32 twice (engine/wire_format.cc); no other wire decodes through fp32.
    const bool decodes_fp8 = p.wire == DType::fp8_e4m3 && p.offloaded_count() > 0;
    const int64_t padded = (block_layout(shape, 0, p.master).elements + 127) / 128 * 128;
    CHECK(plan.memory.gpu_term("wire_decode") == (decodes_fp8 ? 8 * padded : 0));
    if (p.slots == SlotMode::reuse) {
      CHECK(plan.memory.gpu_term("slots") == plan.slot_count * plan.slot_bytes);
      CHECK((a.any == 0 && a.forward == 0 && a.head == 0));
    } else {
      // Host order: the next block's buffer is allocated before this block's is freed, so at most one more than the
      // slots reuse would hold while a block computes; none are left when the head runs.
      CHECK(plan.memory.gpu_term("slots") == a.any);
      CHECK(a.any <= (plan.slot_count + 1) * plan.slot_bytes);
      CHECK(a.forward <= a.any);
      CHECK(a.head == 0);
    }
    const int64_t expect_slots = n_off == 0 ? 0 : std::min(n_off, p.prefetch + 1 + (p.gpu_writes_back() ? 1 : 0));
    CHECK(plan.slot_count == expect_slots);
    // --fold-update: a block that stays on the GPU restores and updates after the loss (and its first pass has no
    // pending update); an offloaded block keeps ZO2's order.
    const int loss = plan.find("loss");
    REQUIRE(loss >= 0);
    for (int64_t l = -1; l < shape.layers; ++l) {
      const std::string tag = l < 0 ? "" : fmt::format("L{:02d}", l);
      const int first = plan.find(l < 0 ? "zo+/resident" : "zo+/" + tag), last = plan.find(l < 0 ? "zo=/head" : "zo=/" + tag);
      REQUIRE((first >= 0 && last >= 0));
      const Op& a = plan.ops[size_t(first)];
      const Op& z = plan.ops[size_t(last)];
      INFO("block " << l);
      if (p.folds(l)) {
        CHECK(a.kind == OpKind::zo_perturb);
        CHECK(a.rng_samples == a.elements);
        CHECK(z.kind == OpKind::zo_fold);
        CHECK(last > loss);
        CHECK(std::count(z.deps.begin(), z.deps.end(), loss) == 1);
        CHECK(z.updates == 1);
      } else {
        CHECK(a.kind == OpKind::zo_update);
        CHECK(a.rng_samples == 2 * a.elements);
        CHECK(z.kind == OpKind::zo_restore);
        CHECK(last < loss);
      }
    }
  }
}

TEST_CASE("with --prefetch-next a step uploads the next step's first blocks before its loss, the next plan waits for "
          "them", "[plan]") {
  const ModelShape shape = model_preset("opt-125m");
  // 10 blocks through 4 slots (prefetch 2, copied back): the next step's first block lands in slot 10 mod 4 = 2.
  const Policy p = testing::policy("0-9", 2, 4, 12, "fp16", "", "", "reuse", "on");
  Policy on = p;
  on.prefetch_next = true;
  const std::vector<Plan> plans = build_plan_sequence(shape, on, 1, 64, 0, 5);
  const Plan &first = plans[0], &p3 = plans[3], &p4 = plans[4];
  auto names = [](const Plan& plan, const std::vector<int>& deps) {
    std::set<std::string> s;
    for (int d : deps) s.insert(plan.ops[size_t(d)].name);
    return s;
  };
  auto op = [](const Plan& plan, const std::string& name) -> const Op& {
    const int i = plan.find(name);
    REQUIRE(i >= 0);
    return plan.ops[size_t(i)];
  };
  CHECK_FALSE(first.continues);
  CHECK(p4.continues);
  // The first step uploads its own first blocks (as without the knob) and, before the head and the loss, the next
  // step's; later steps upload only the blocks after them.
  for (const char* name : {"h2d/L00", "h2d/L02", "h2d/L03", "h2d/next/L00", "h2d/next/L02"}) CHECK(first.find(name) >= 0);
  CHECK(first.find("h2d/next/L03") < 0);
  CHECK(first.find("h2d/next/L02") < first.find("head/fwd+"));
  CHECK(first.find("h2d/next/L02") < first.find("loss"));
  CHECK(op(first, "h2d/next/L00").next_step);
  CHECK(p4.find("h2d/L00") < 0);
  CHECK(p4.find("h2d/L02") < 0);
  CHECK(p4.find("h2d/L03") >= 0);
  // Its first op on a carried block waits for the previous plan's early upload, in the slot that upload filled.
  const Op& zp = op(p4, "zo+/L00");  // (4 + 0) % 4 = 0 updates to replay: zo+ comes first
  CHECK(zp.deps.empty());
  CHECK(names(p3, zp.prev_deps) == std::set<std::string>{"h2d/next/L00"});
  CHECK(zp.slot == op(p3, "h2d/next/L00").slot);
  CHECK(op(first, "h2d/next/L00").slot == 2);  // the stream of uploads goes round the slots across steps
  CHECK(op(plans[1], "zo+/L00").slot == 2);
  const Op& rp = op(p4, "replay/L01");  // (4 + 1) % 4 = 1 update to replay
  CHECK(names(p3, rp.prev_deps) == std::set<std::string>{"h2d/next/L01"});
  // The early upload of block 0 waits for the prefetch window (zo= of block 10-3), for its slot's last occupant
  // (block 10-4: its copy back at step 1, its zo= at step 3) and, at step 3, for its own copy back.
  CHECK(names(plans[1], op(plans[1], "h2d/next/L00").deps) == std::set<std::string>{"zo=/L07", "d2h/L06"});
  CHECK(names(p3, op(p3, "h2d/next/L00").deps) == std::set<std::string>{"zo=/L07", "zo=/L06", "d2h/L00"});
  CHECK(names(p3, op(p3, "h2d/next/L01").deps) == std::set<std::string>{"zo=/L08", "zo=/L07"});
  // The next step's first own upload takes the slot of the previous step's last block (upload 3 - 4 = -1); an
  // upload waits for its block's copy back in the previous step (block 4 at step 3).
  const Op& up = op(p4, "h2d/L03");
  CHECK(names(p4, up.deps) == std::set<std::string>{"zo=/L00"});
  CHECK(names(p3, up.prev_deps) == std::set<std::string>{"zo=/L09"});
  CHECK(names(p4, op(p4, "h2d/L04").deps) == std::set<std::string>{"zo=/L01", "zo=/L00"});
  CHECK(names(p3, op(p4, "h2d/L04").prev_deps) == std::set<std::string>{"d2h/L04"});
  CHECK(names(plans[2], op(p3, "h2d/L03").prev_deps) == std::set<std::string>{"d2h/L09"});
  for (size_t s = 0; s < plans.size(); ++s) {
    REQUIRE_NOTHROW(plans[s].validate(s > 0 ? &plans[s - 1] : nullptr));
    // Slots and memory are those of the policy without the knob.
    const Plan off = build_plan(shape, p, 1, 64, int64_t(s));
    CHECK(plans[s].slot_count == off.slot_count);
    CHECK(plans[s].memory.gpu_total() == off.memory.gpu_total());
  }
  // The plan round-trips through JSON with its links to the previous one.
  const Plan back = plan_from_json(plan_to_json(p4), "plan.json");
  CHECK(plan_to_json(back) == plan_to_json(p4));
  CHECK(back.continues);
  CHECK(back.ops[size_t(back.find("zo+/L00"))].prev_deps == zp.prev_deps);
  // A plan of another step, policy or no plan at all cannot be continued: the next one starts fresh.
  CHECK_THROWS_WITH(build_plan(shape, on, 1, 64, 3, MemoryModel{}, &p4), ContainsSubstring("step 3"));
  CHECK_THROWS_WITH(build_plan(shape, on, 1, 128, 5, MemoryModel{}, &p4), ContainsSubstring("previous plan"));
  CHECK_FALSE(build_plan(shape, on, 1, 64, 5).continues);
  // Without offloaded blocks the knob does nothing.
  Policy none = testing::policy("none", 2, 1, 12);
  none.prefetch_next = true;
  const std::vector<Plan> resident = build_plan_sequence(shape, none, 1, 64, 0, 2);
  CHECK_FALSE(resident[1].continues);
  CHECK(plan_to_json(resident[1])["ops"] == plan_to_json(build_plan(shape, testing::policy("none", 2, 1, 12), 1, 64, 1))["ops"]);
}

TEST_CASE("validate catches an early upload or a continued plan without its dependencies", "[plan]") {
  const ModelShape shape = model_preset("opt-125m");
  Policy on = testing::policy("0-9", 2, 4, 12);
  on.prefetch_next = true;
  const std::vector<Plan> plans = build_plan_sequence(shape, on, 1, 64, 0, 5);
  auto without = [](Plan plan, const std::string& name, const std::string& dep) {
    auto& deps = plan.ops[size_t(plan.find(name))].deps;
    const auto it = std::find(deps.begin(), deps.end(), plan.find(dep));
    REQUIRE(it != deps.end());
    deps.erase(it);
    return plan;
  };
  // The slot's last occupant may still be copied back.
  CHECK_THROWS_WITH(without(plans[1], "h2d/next/L00", "d2h/L06").validate(&plans[0]),
                    ContainsSubstring("h2d/next/L00") && ContainsSubstring("slot 0") && ContainsSubstring("d2h/L06"));
  // The host copy may not hold the block's newest values yet. A block's copy back also frees its slot for the upload
  // that takes the slot next, which the h2d queue runs before the block's early upload: drop both edges to see it.
  // (With --writeback 8, step 7 copies back blocks 0 and 8 only; block 8's copy back frees the slot of a later
  // early upload.)
  Policy k8 = on;
  k8.writeback = 8;
  const std::vector<Plan> k8_plans = build_plan_sequence(shape, k8, 1, 64, 0, 8);
  REQUIRE_NOTHROW(k8_plans[7].validate(&k8_plans[6]));
  CHECK_NOTHROW(without(k8_plans[7], "h2d/next/L00", "d2h/L00").validate(&k8_plans[6]));  // implied by h2d/L04's
  CHECK_THROWS_WITH(without(without(k8_plans[7], "h2d/next/L00", "d2h/L00"), "h2d/L04", "d2h/L00").validate(&k8_plans[6]),
                    ContainsSubstring("h2d/next/L00") && ContainsSubstring("d2h/L00") && ContainsSubstring("host copy"));
  // A carried block used without waiting for its early upload, checked with and without the previous plan.
  Plan p4 = plans[4];
  p4.ops[size_t(p4.find("zo+/L00"))].prev_deps.clear();
  CHECK_THROWS_WITH(p4.validate(&plans[3]), ContainsSubstring("zo+/L00") && ContainsSubstring("h2d/next/L00"));
  CHECK_THROWS_WITH(p4.validate(), ContainsSubstring("zo+/L00") && ContainsSubstring("previous step"));
  // The first own upload takes a slot the previous step's last block may still be copied back from.
  Plan p3 = plans[3];
  p3.ops[size_t(p3.find("h2d/L03"))].prev_deps.clear();
  CHECK_THROWS_WITH(p3.validate(&plans[2]), ContainsSubstring("h2d/L03") && ContainsSubstring("slot") &&
                                                ContainsSubstring("d2h/L09"));
  // A plan that does not continue has no business waiting for the previous one.
  Plan fresh = plans[0];
  fresh.ops[0].prev_deps = {3};
  CHECK_THROWS_WITH(fresh.validate(), ContainsSubstring("does not continue"));
}

TEST_CASE("writeback K copies each block back once every K steps and replays the rest", "[plan]") {
  const ModelShape shape = model_preset("opt-125m");
  for (int64_t k : {1, 2, 3, 5, 16}) {
    const Policy p = testing::policy("all", 1, k, 12);
    std::map<int64_t, int> copies;
    for (int64_t step = 0; step < 3 * k; ++step) {
      const Plan plan = build_plan(shape, p, 1, 32, step);
      for (const auto& op : plan.ops)
        if (op.kind == OpKind::download) ++copies[op.layer];
      // Since its last copy back, a block has seen replays_due updates; zo+ applies the newest one.
      for (int64_t l = 0; l < 12; ++l) {
        const int64_t last = [&] {
          for (int64_t s = step - 1; s >= step - k; --s)
            if (s < 0 || writeback_due(l, s, k)) return s;
          return step - k;
        }();
        if (last >= 0 || step >= k) CHECK(replays_due(l, step, k) == step - 1 - last);
      }
    }
    for (int64_t l = 0; l < 12; ++l) CHECK(copies[l] == 3);
  }
}

TEST_CASE("wire bytes: fp8 carries one fp32 scale per 128 elements", "[plan]") {
  const ModelShape shape = model_preset("opt-1.3b");
  const SlabLayout l8 = block_layout(shape, 0, DType::fp8_e4m3);
  CHECK(wire_bytes(shape, DType::fp8_e4m3) == l8.bytes() + (l8.elements + 127) / 128 * 4);
  CHECK(wire_bytes(shape, DType::f16) == block_layout(shape, 0, DType::f16).bytes());
  const Plan plan = build_plan(shape, testing::policy("all", 1, 1, 24, "fp16", "fp8", "fp16"), 1, 2048);
  CHECK(plan.slot_bytes == wire_bytes(shape, DType::fp8_e4m3) + block_layout(shape, 0, DType::f16).bytes());
}

TEST_CASE("the memory prediction names its terms and --gpu-mem-budget refuses with them", "[plan]") {
  const ModelShape shape = model_preset("opt-13b");
  Policy p = testing::policy("all", 1, 1, 40);
  const Plan plan = build_plan(shape, p, 1, 2048);
  for (const char* term : {"resident_group", "resident_blocks", "slots", "hidden_states", "layer_workspace", "logits",
                           "workspace"})
    CHECK(std::any_of(plan.memory.gpu.begin(), plan.memory.gpu.end(), [&](const auto& t) { return t.name == term; }));
  CHECK(plan.memory.gpu_term("resident_blocks") == 0);
  CHECK(plan.memory.gpu_term("hidden_states") == 2 * 2048 * 5120 * 2);
  // The loss holds the compute-format logits [B,T-1,V] and the final norm's output (the head GEMM's input).
  CHECK(plan.memory.gpu_term("logits") == 2047ll * (50272 + 5120) * 2);  // fp16 logits + final norm output
  CHECK(plan.memory.gpu_term("workspace") == 33ll << 20);
  // Transient terms are never live together: the total counts the larger.
  CHECK(plan.memory.gpu_total() == plan.memory.gpu_live_sum(Live::always) + plan.memory.gpu_term("logits"));
  CHECK(plan.memory.host_total() == 40 * block_layout(shape, 0, DType::f16).bytes());
  p.gpu_mem_budget = plan.memory.gpu_total();
  CHECK_NOTHROW(build_plan(shape, p, 1, 2048));
  p.gpu_mem_budget = plan.memory.gpu_total() - 1;
  CHECK_THROWS_WITH(build_plan(shape, p, 1, 2048),
                    ContainsSubstring("--gpu-mem-budget") && ContainsSubstring("resident_group") &&
                        ContainsSubstring("slots") && ContainsSubstring(std::to_string(plan.memory.gpu_total())));
  // Keeping blocks resident costs their bytes in the compute format.
  const Plan first4 = build_plan(shape, testing::policy("4-39", 1, 1, 40), 1, 2048);
  CHECK(first4.memory.gpu_term("resident_blocks") == 4 * block_layout(shape, 0, DType::f16).bytes());
}

TEST_CASE("validate catches a slot handed over without a dependency", "[plan]") {
  const ModelShape shape = model_preset("opt-125m");
  Plan plan = build_plan(shape, testing::policy("all", 1, 1, 12), 1, 64);
  REQUIRE_NOTHROW(plan.validate());
  // h2d/L03 reuses slot 0 of block 0 and waits for d2h/L00; drop that edge.
  Op& up = plan.ops[size_t(plan.find("h2d/L03"))];
  REQUIRE(up.slot == 0);
  const int d2h0 = plan.find("d2h/L00");
  REQUIRE(std::find(up.deps.begin(), up.deps.end(), d2h0) != up.deps.end());
  up.deps.erase(std::find(up.deps.begin(), up.deps.end(), d2h0));
  CHECK_THROWS_WITH(plan.validate(), ContainsSubstring("h2d/L03") && ContainsSubstring("slot 0"));
  // A compute op that no longer waits for its block's upload.
  Plan plan2 = build_plan(shape, testing::policy("all", 1, 1, 12), 1, 64);
  plan2.ops[size_t(plan2.find("zo+/L05"))].deps.clear();
  CHECK_THROWS_WITH(plan2.validate(), ContainsSubstring("zo+/L05") && ContainsSubstring("h2d/L05"));
}

TEST_CASE("plans round-trip through JSON, edits included", "[plan]") {
  const ModelShape shape = model_preset("opt-350m");
  const Plan plan = build_plan(shape, testing::policy("0-9,20", 2, 3, 24, "fp16", "fp32", "fp32", "alloc"), 2, 256, 1);
  nlohmann::json j = plan_to_json(plan);
  const Plan back = plan_from_json(j, "plan.json");
  CHECK(plan_to_json(back) == j);
  j["ops"][5]["deps"] = nlohmann::json::array({7});
  CHECK_THROWS_WITH(plan_from_json(j, "plan.json"),
                    ContainsSubstring("plan.json: ops[5]") && ContainsSubstring("deps"));
  j = plan_to_json(plan);
  j["ops"][2]["queue"] = "gpu";
  CHECK_THROWS_WITH(plan_from_json(j, "plan.json"), ContainsSubstring("ops[2]") && ContainsSubstring("queue"));
  CHECK_THROWS_WITH(build_plan(shape, testing::policy("all", 1, 1, 24), 1, 4096), ContainsSubstring("--seq"));
  CHECK_THROWS_WITH(build_plan(shape, testing::policy("all", 1, 1, 12), 1, 64), ContainsSubstring("layers"));
  CHECK_FALSE(plan_table(plan).empty());
  // Memory terms keep when they are live; with --slots alloc the per-upload buffers follow the ops as edited.
  const Plan alloc = build_plan(shape, testing::policy("all", 1, 1, 24, "fp16", "", "", "alloc"), 1, 256);
  j = plan_to_json(alloc);
  CHECK(plan_from_json(j, "plan.json").memory.gpu_total() == alloc.memory.gpu_total());
  const int a2 = alloc.find("alloc/L02");
  j["ops"][size_t(a2)]["link_bytes"] = 2 * alloc.slot_bytes;
  const Plan edited = plan_from_json(j, "plan.json");
  CHECK(edited.memory.alloc.any == 4 * alloc.slot_bytes);
  CHECK(edited.memory.gpu_term("slots") == 4 * alloc.slot_bytes);
  j = plan_to_json(alloc);
  j["memory"]["gpu"][0]["live"] = "sometimes";
  CHECK_THROWS_WITH(plan_from_json(j, "plan.json"),
                    ContainsSubstring("memory.gpu[0]") && ContainsSubstring("live") && ContainsSubstring("per_upload"));
}
