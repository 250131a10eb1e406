// Plan invariants over random policies: names, one upload per offloaded block, write-back every K steps, slots
// handed over through dependencies, memory terms, the budget refusal, and JSON round trips of edited plans.
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
    try {
      return resolve_policy(o, layers);
    } catch (const std::invalid_argument&) {
      continue;  // e.g. writeback > 1 with the wire below the master
    }
  }
}

}  // namespace

TEST_CASE("op names follow ARCHITECTURE.md decision 6", "[plan]") {
  const ModelShape shape = opt_preset("opt-125m");
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
  const ModelShape shape = opt_preset("opt-125m");
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
  const ModelShape shape = opt_preset("opt-125m");
  for (int trial = 0; trial < 300; ++trial) {
    const Policy p = random_policy(rng, shape.layers);
    const int64_t step = int64_t(rng() % 20);
    INFO("policy " << policy_to_json(p).dump() << " step " << step);
    const Plan plan = build_plan(shape, p, 1 + int64_t(rng() % 4), 16 + int64_t(rng() % 512), step);
    REQUIRE_NOTHROW(plan.validate());
    std::map<int64_t, int> uploads, downloads, updates;
    for (const auto& op : plan.ops) {
      if (op.kind == OpKind::upload) ++uploads[op.layer];
      if (op.kind == OpKind::download) ++downloads[op.layer];
      if (op.kind == OpKind::host_update) ++updates[op.layer];
      if (!p.overlap) CHECK(op.queue == Queue::compute);
      if (op.kind == OpKind::upload || op.kind == OpKind::download) CHECK(op.link_bytes == plan.wire_block_bytes);
    }
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
    const int64_t off = p.offloaded_count();
    const int64_t expect_slots = off == 0 ? 0 : std::min(off, p.prefetch + 1 + (p.gpu_writes_back() ? 1 : 0));
    CHECK(plan.slot_count == expect_slots);
  }
}

TEST_CASE("writeback K copies each block back once every K steps and replays the rest", "[plan]") {
  const ModelShape shape = opt_preset("opt-125m");
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
  const ModelShape shape = opt_preset("opt-1.3b");
  const SlabLayout l8 = block_layout(shape, 0, DType::fp8_e4m3);
  CHECK(wire_bytes(shape, DType::fp8_e4m3) == l8.bytes() + (l8.elements + 127) / 128 * 4);
  CHECK(wire_bytes(shape, DType::f16) == block_layout(shape, 0, DType::f16).bytes());
  const Plan plan = build_plan(shape, testing::policy("all", 1, 1, 24, "fp16", "fp8", "fp16"), 1, 2048);
  CHECK(plan.slot_bytes == wire_bytes(shape, DType::fp8_e4m3) + block_layout(shape, 0, DType::f16).bytes());
}

TEST_CASE("the memory prediction names its terms and --gpu-mem-budget refuses with them", "[plan]") {
  const ModelShape shape = opt_preset("opt-13b");
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
  const ModelShape shape = opt_preset("opt-125m");
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
  const ModelShape shape = opt_preset("opt-350m");
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
