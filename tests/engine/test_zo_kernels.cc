// The fused ZO pass against a plainly written reference (z materialised from the RNG contract, double arithmetic),
// stochastic rounding's unbiasedness, and the CUDA kernel against the CPU loop when a GPU is present.
#include "catch_aten.h"

#include <array>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include "core/philox.h"
#include "engine/cuda_glue.h"
#include "engine/param_slab.h"
#include "engine/zo_kernels.h"
#include "test_util.h"

using namespace zo2;

namespace {

// A layout of random tensor sizes starting at a random (generally unaligned) global index.
// Up to six tensors of 1..max_numel elements at a random global index (so groups of four straddle tensor ends).
// aligned: sizes and the first index multiples of 8, as in OPT's blocks (every interior thread block unchecked).
SlabLayout random_layout(std::mt19937_64& rng, DType dtype, int64_t max_numel = 3000, bool aligned = false) {
  std::vector<TensorSpec> specs;
  const int n = 1 + rng() % 6;
  const int64_t unit = aligned ? 8 : 1;
  for (int i = 0; i < n; ++i)
    specs.push_back({"t" + std::to_string(i), {unit * int64_t(1 + rng() % uint64_t(max_numel / unit))}, bool(rng() % 2)});
  return make_slab_layout(specs, unit * int64_t(rng() % (uint64_t(1) << 40)), dtype);
}

ZoPassCoeffs random_coeffs(std::mt19937_64& rng, bool update) {
  std::uniform_real_distribution<float> u(0.5f, 2.0f);
  ZoPassCoeffs k;
  k.has_update = update;
  k.update_seed = rng();
  k.lr = 1e-2f * u(rng);
  k.projected_grad = (rng() % 2 ? 1.0f : -1.0f) * u(rng);
  k.weight_decay = 0.1f * u(rng);
  k.perturb_seed = rng();
  k.perturb_scale = (rng() % 2 ? 1e-3f : -2e-3f) * u(rng);
  return k;
}

// The reference: materialised z, unfused double arithmetic, one tensor at a time.
at::Tensor reference_pass(const ParamSlab& slab, const ZoPassCoeffs& k) {
  at::Tensor out = slab.flat.to(at::kDouble).clone();
  for (const auto& e : slab.layout.entries) {
    auto z = at::empty({e.numel}, at::kDouble), zp = at::empty({e.numel}, at::kDouble);
    for (int64_t i = 0; i < e.numel; ++i) {
      z[i] = rng::normal_at(k.perturb_seed, uint64_t(e.global_index + i));
      zp[i] = rng::normal_at(k.update_seed, uint64_t(e.global_index + i));
    }
    at::Tensor theta = out.narrow(0, e.offset, e.numel);
    const double wd = e.decay ? k.weight_decay : 0.0;
    if (k.has_update) theta.sub_(double(k.lr) * (double(k.projected_grad) * zp + wd * theta));
    theta.add_(double(k.perturb_scale) * z);
    if (k.fold_update) theta.sub_(double(k.lr) * (double(k.projected_grad) * z + wd * theta));
  }
  return out;
}

}  // namespace

// The pass as the engine runs it with the CUDA kernel or the CPU loop, on the slab's device.
void run_pass(ParamSlab& slab, const ZoPassCoeffs& k) {
  if (slab.flat.is_cuda()) {
    zo_pass_cuda(slab.flat.data_ptr(), slab.layout.dtype, zo_segments(slab.layout), k, current_cuda_stream());
    cuda_synchronize();
  } else {
    zo_pass_cpu(slab.flat.data_ptr(), slab.layout.dtype, zo_segments(slab.layout), k);
  }
}

// --fold-update's claim (core/zo_math.h): the folded restore stores exactly what the restore pass followed by the
// next step's first pass (pending update and +eps with the next z), or by a flush (the update alone), would.
void check_fold_equals_restore_then_update(at::Device device) {
  const uint64_t seed = test::fresh_seed();
  INFO("seed " << seed << " device " << device);
  std::mt19937_64 rng(seed);
  at::manual_seed(seed);
  for (DType dt : {DType::f32, DType::f16, DType::bf16}) {
    for (bool flush : {false, true}) {
      const SlabLayout layout = random_layout(rng, dt, 60000, rng() % 2);
      ParamSlab pending = ParamSlab::allocate(layout, device);
      for (auto& v : pending.views) v.normal_(0.0, 0.05);
      ParamSlab folded = ParamSlab::over(layout, pending.flat.clone());
      const at::Tensor before = pending.flat.cpu().clone();
      const ZoPassCoeffs step = random_coeffs(rng, false);  // this step: its seed, g, lr, wd
      const uint64_t next_seed = rng();
      const float eps = std::abs(step.perturb_scale);
      // ZO2's order: zo= restores, then the next step's zo+ applies the update (and +eps of the next z).
      ZoPassCoeffs restore = step;
      restore.perturb_scale = eps;
      run_pass(pending, restore);
      ZoPassCoeffs next = step;
      next.has_update = true;
      next.update_seed = step.perturb_seed;
      next.perturb_seed = next_seed;
      next.perturb_scale = flush ? 0.0f : eps;
      run_pass(pending, next);
      // Folded: zo= restores and updates; the next step's zo+ is +eps only.
      ZoPassCoeffs fold = restore;
      fold.fold_update = true;
      run_pass(folded, fold);
      if (!flush) {
        ZoPassCoeffs perturb;
        perturb.perturb_seed = next_seed;
        perturb.perturb_scale = eps;
        run_pass(folded, perturb);
      }
      INFO(dtype_name(dt) << (flush ? " then a flush" : " then the next step's first pass"));
      CHECK(at::equal(folded.flat.cpu(), pending.flat.cpu()));
      CHECK(!at::equal(folded.flat.cpu(), before));  // the passes moved the weights
    }
  }
}

TEST_CASE("the folded restore equals the restore and the next step's pending update, bit for bit (CPU)") {
  check_fold_equals_restore_then_update(at::kCPU);
}

TEST_CASE("the folded restore equals the restore and the next step's pending update, bit for bit (GPU)") {
  if (!cuda_available()) SKIP("no GPU on this machine");
  check_fold_equals_restore_then_update(at::kCUDA);
}

TEST_CASE("fused fp32 pass equals the unfused reference, and leaves padding alone") {
  const uint64_t seed = test::fresh_seed();
  INFO("seed " << seed);
  std::mt19937_64 rng(seed);
  at::manual_seed(seed);
  for (int trial = 0; trial < 4; ++trial) {
    const SlabLayout layout = random_layout(rng, DType::f32);
    ParamSlab slab = ParamSlab::allocate(layout, at::kCPU);
    slab.flat.fill_(12345.0);  // poison: padding must keep it
    for (auto& v : slab.views) v.normal_(0.0, 0.05);
    const bool update = trial % 2 == 0;
    ZoPassCoeffs k = random_coeffs(rng, update);
    k.fold_update = trial == 3;  // the folded restore: +scale*z, then this step's update with the same z
    const at::Tensor expect = reference_pass(slab, k);
    zo_pass_cpu(slab.flat.data_ptr(), DType::f32, zo_segments(layout), k);
    CHECK(test::rel_error(slab.flat, expect) < 1e-6);  // fp32 rounding of a few operations
    CHECK(at::equal(slab.flat.eq(12345.0).sum(), expect.eq(12345.0).sum()));
  }
}

TEST_CASE("fused 16-bit passes round to nearest within one ulp of the exact value") {
  const uint64_t seed = test::fresh_seed();
  INFO("seed " << seed);
  std::mt19937_64 rng(seed);
  at::manual_seed(seed);
  for (DType dt : {DType::f16, DType::bf16}) {
    const SlabLayout layout = random_layout(rng, dt);
    ParamSlab slab = ParamSlab::allocate(layout, at::kCPU);
    for (auto& v : slab.views) v.normal_(0.0, 0.05);
    const ZoPassCoeffs k = random_coeffs(rng, /*update=*/false);
    const at::Tensor expect = reference_pass(slab, k);
    zo_pass_cpu(slab.flat.data_ptr(), dt, zo_segments(layout), k);
    // One ulp of the format at each value: 2^-10 (fp16) or 2^-7 (bf16) relative.
    const double ulp = dt == DType::f16 ? 1.0 / 1024 : 1.0 / 128;
    at::Tensor err = (slab.flat.to(at::kDouble) - expect).abs();
    at::Tensor bound = expect.abs() * ulp + 1e-7;
    CHECK(err.le(bound).all().item<bool>());
  }
}

TEST_CASE("16-bit updates far below half an ulp still move the weights (stochastic rounding)") {
  const uint64_t seed = test::fresh_seed();
  INFO("seed " << seed);
  std::mt19937_64 rng(seed);
  for (auto [dt, fold] : {std::pair{DType::bf16, false}, std::pair{DType::f16, false}, std::pair{DType::bf16, true},
                          std::pair{DType::f16, true}}) {
    const int64_t n = 1 << 20;
    const SlabLayout layout = make_slab_layout({{"w", {n}, false}}, int64_t(rng() % 1000000), dt);
    ParamSlab slab = ParamSlab::allocate(layout, at::kCPU);
    slab.flat.fill_(0.02);  // a typical weight; its ulp: 2^-13 (bf16), 2^-16 (fp16)
    ZoPassCoeffs k;
    k.has_update = !fold;  // the pending update, or the folded restore (here with scale 0: the update alone)
    k.fold_update = fold;
    k.update_seed = rng();
    k.perturb_seed = k.update_seed;
    k.lr = 1e-7f;
    k.projected_grad = 3.0f;  // |lr*g*z| ~ 3e-7: 1/400 of a bf16 ulp, 1/50 of an fp16 ulp
    zo_pass_cpu(slab.flat.data_ptr(), dt, zo_segments(layout), k);
    at::Tensor z = at::empty({n}, at::kDouble);
    for (int64_t i = 0; i < n; ++i) z[i] = rng::normal_at(k.update_seed, uint64_t(layout.entries[0].global_index + i));
    at::Tensor delta = slab.flat.to(at::kDouble) - double(c10::BFloat16(0.02f));
    if (dt == DType::f16) delta = slab.flat.to(at::kDouble) - double(c10::Half(0.02f));
    // Exact update: -lr*g*z, whose projection on z is -lr*g*n. Stochastic rounding adds noise of about ulp*sqrt(p)
    // per element (p = |lr*g*z|/ulp), projecting to ulp*sqrt(n*p): the signal is sqrt(n*lr*g/ulp) = 50 (bf16) to 140
    // (fp16) noise sigmas, so a 25% band is over 12 sigma wide. Round-to-nearest would give exactly 0.
    const double projected = (delta * z).sum().item<double>();
    const double exact = -double(k.lr) * k.projected_grad * (z * z).sum().item<double>();
    INFO(dtype_name(dt) << (fold ? " folded" : " pending") << ": projected " << projected << " exact " << exact);
    CHECK(std::abs(projected - exact) < 0.25 * std::abs(exact));
  }
}

TEST_CASE("the CUDA kernel computes what the CPU loop computes") {
  if (!cuda_available()) SKIP("no GPU on this machine");
  const uint64_t seed = test::fresh_seed();
  INFO("seed " << seed);
  std::mt19937_64 rng(seed);
  at::manual_seed(seed);
  for (DType dt : {DType::f32, DType::f16, DType::bf16}) {
    for (int mode : {0, 1, 2}) {  // +scale*z; pending update and +scale*z; the folded restore
      const bool update = mode == 1;
      // Tensors up to 100k elements: thread blocks wholly inside a tensor (the kernel's unchecked interior path) and
      // blocks at tensor ends (the checked edge path), for every groups-per-thread the kernel is built with.
      for (int variant = 0; variant < 8; ++variant) {
        // groups per thread 1, 2, 4, 8, each on a layout of any alignment and on one of OPT's (multiples of 8), and
        // every register budget the benchmark tries.
        const int groups_per_thread = 1 << (variant % 4);
        const int min_blocks = std::array<int, 4>{-1, 4, 8, 0}[variant % 4];
        const bool aligned = variant >= 4;
        const SlabLayout layout = random_layout(rng, dt, 100000, aligned);
        ParamSlab cpu = ParamSlab::allocate(layout, at::kCPU);
        cpu.flat.fill_(1024.0);  // poison, exact in every format: padding between tensors must keep it
        for (auto& v : cpu.views) v.normal_(0.0, 0.05);
        ParamSlab gpu = ParamSlab::over(layout, cpu.flat.to(at::kCUDA));
        ZoPassCoeffs k = random_coeffs(rng, update);
        k.fold_update = mode == 2;
        zo_pass_cpu(cpu.flat.data_ptr(), dt, zo_segments(layout), k);
        zo_pass_cuda(gpu.flat.data_ptr(), dt, zo_segments(layout), k, current_cuda_stream(), groups_per_thread,
                     min_blocks);
        cuda_synchronize();
        const at::Tensor on_gpu = gpu.flat.cpu();
        INFO(dtype_name(dt) << " mode " << mode << " groups/thread " << groups_per_thread << " aligned "
                            << aligned << " min blocks " << min_blocks);
        // fp32: log/sincos rounding on either side (about 1e-7 of z) times |scale|. 16-bit: the same stochastic
        // rounding bits on both sides, so values differ only where z's last-bit difference flips a
        // round-to-nearest: at most one ulp, and on few elements.
        const double tol = dt == DType::f32 ? 1e-6 : (dt == DType::f16 ? 2e-3 : 1e-2);
        CHECK(test::rel_error(on_gpu, cpu.flat) < tol);
        CHECK(on_gpu.eq(1024.0).sum().item<int64_t>() == cpu.flat.eq(1024.0).sum().item<int64_t>());
        if (dt != DType::f32) {
          const double same = on_gpu.eq(cpu.flat).to(at::kDouble).mean().item<double>();
          INFO("bitwise equal fraction " << same);
          CHECK(same > 0.99);
        }
      }
    }
  }
}

TEST_CASE("the CPU pass runs on every thread ATen offers") {
  // The host master update is this loop: on one thread it ran 16x slower than the GPU host allows.
  if (at::get_num_threads() < 2) SKIP("one thread on this machine");
  CHECK(cpu_pass_threads() == at::get_num_threads());
}
