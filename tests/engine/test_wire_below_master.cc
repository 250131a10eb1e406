// --wire below --master: the host keeps the master and applies each step's update there (from the regenerated z),
// the link and the GPU see a rounded copy. Checked against the same updates replayed on the starting master, and
// the fp8 encoding against its error bound.
#include "catch_aten.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <catch2/generators/catch_generators.hpp>
#include <catch2/generators/catch_generators_range.hpp>

#include "core/plan.h"
#include "engine/step_state.h"
#include "engine/wire_format.h"
#include "engine/zo_engine.h"
#include "engine/zo_kernels.h"
#include "test_util.h"

using namespace zo2;

TEST_CASE("fp8 wire copies decode within e4m3's error bound of each group's scale") {
  const uint64_t seed = test::fresh_seed();
  INFO("seed " << seed);
  at::manual_seed(seed);
  const SlabLayout layout = make_slab_layout({{"a", {1000}, true}, {"b", {77}, false}, {"c", {4096}, true}}, 0, DType::f32);
  ParamSlab master = ParamSlab::allocate(layout, at::kCPU);
  for (auto& v : master.views) v.normal_(0.0, 0.02).mul_(at::rand_like(v) * 10);  // groups of varied magnitude
  WireCopy wire = allocate_wire(layout, DType::fp8_e4m3, at::kCPU, false);
  encode_wire(master, wire);
  at::Tensor decoded = at::empty({layout.elements}, at::kFloat);
  decode_wire(wire.slab.flat, wire.scales, DType::fp8_e4m3, decoded);
  // e4m3 keeps 3 mantissa bits: within a group scaled to amax = 448, the rounding error is at most half an ulp,
  // 2^-4 of the value, plus subnormal spacing (2^-9 * scale) near zero.
  at::Tensor x = master.flat.view({-1});
  const int64_t n = layout.elements;
  at::Tensor scale = wire.scales.repeat_interleave(kFp8GroupElements).narrow(0, 0, n);
  at::Tensor bound = x.abs() * (1.0 / 16) + scale * (1.0 / 512) + 1e-12;
  CHECK((decoded - x).abs().le(bound).all().item<bool>());
  CHECK(test::rel_error(decoded, x) < 0.05);
}

TEST_CASE("host threads (--host-threads) cap the threads of the host update's CPU pass") {
  for (int64_t n : {1, 2, 3}) {
    const int used = cpu_pass_threads(n);
    INFO("cap " << n << ", pool " << at::get_num_threads() << ", used " << used);
    CHECK(used >= 1);
    CHECK(used <= n);
  }
}

TEST_CASE("with the wire below the master, the host master holds exactly the fp32 updates") {
  const std::string family = GENERATE(from_range(test::test_families()));
  const uint64_t seed = test::fresh_seed();
  INFO(family << " seed " << seed);
  std::mt19937_64 rng(seed);
  at::manual_seed(seed);
  ModelShape shape = test::random_small_shape(rng, family);
  shape.layers = 3;
  for (const char* wire : {"fp16", "bf16", "fp8"}) {
    PolicyOptions o;
    o.offload = "all";
    o.dtype = "fp32";
    o.master = "fp32";
    o.wire = wire;
    // --host-threads splits the host update differently; the reference below runs it on every thread.
    o.host_threads = int64_t(rng() % 4);
    INFO("wire " << wire << " host threads " << o.host_threads);
    const Policy policy = resolve_policy(o, shape.layers);
    OptModel m = OptModel::allocate(shape, DType::f32, at::kCPU, policy.offload, policy.master, policy.wire);
    m.init_random(seed);
    std::vector<at::Tensor> start;
    for (auto& b : m.blocks) start.push_back(b.flat.clone());
    const ZoHyper hyper{1e-2f, 1e-2f, 0.1f, rng()};
    ZoEngine engine(m, policy, hyper, 2, 10, make_cpu_executor(rng(), 50));
    std::vector<StepResult> steps;
    for (int s = 0; s < 3; ++s) steps.push_back(engine.step(at::randint(shape.vocab_size, {2, 10}, at::kLong)));
    engine.flush();
    // The same updates, in order, on the starting masters with the fused CPU pass.
    for (size_t l = 0; l < m.blocks.size(); ++l) {
      ParamSlab expect = ParamSlab::over(m.blocks[l].layout, start[l].clone());
      for (const auto& s : steps) {
        ZoPassCoeffs k;
        k.has_update = true;
        k.update_seed = rng::step_seed(hyper.seed, uint64_t(s.step));
        k.lr = hyper.lr;
        k.projected_grad = float(s.projected_grad);
        k.weight_decay = hyper.weight_decay;
        zo_pass_cpu(expect.flat.data_ptr(), DType::f32, zo_segments(expect.layout), k);
      }
      CHECK(at::equal(m.blocks[l].flat, expect.flat));
      CHECK_FALSE(at::equal(m.blocks[l].flat, start[l]));  // and the updates did land
      // The wire copy is the master, rounded.
      at::Tensor decoded = at::empty_like(m.blocks[l].flat);
      decode_wire(m.wire[l].slab.flat, m.wire[l].scales, policy.wire, decoded);
      CHECK(test::rel_error(decoded, m.blocks[l].flat) < (policy.wire == DType::fp8_e4m3 ? 0.05 : 5e-3));
    }
  }
}
