// Fused ZO passes against the device-to-device copy that bounds them: each pass reads and writes the slab once (z is
// computed, not loaded), so achieved GB/s counts 2 x slab bytes, and copy_fraction = pass GB/s / copy GB/s.
#include <vector>

#include <benchmark/benchmark.h>

#include <ATen/ATen.h>

#include "core/median.h"
#include "core/model_shape.h"
#include "core/slab_layout.h"
#include "engine/param_slab.h"
#include "engine/zo_kernels.h"

#ifdef ZO2_HAVE_CUDA
#include <cuda_runtime.h>

#include "engine/cuda_check.h"
#include "benchmarks/cuda_event_time.h"
#include "engine/cuda_glue.h"
#endif

namespace {

using namespace zo2;

const DType kDtypes[] = {DType::f32, DType::f16, DType::bf16};

// The three passes a step runs: 0 = +eps only (zo-, zo=, zo+ of a folding block), 1 = the pending update and +eps
// (zo+ of an offloaded block, or of any block with --fold-update off), 2 = the folded restore (zo= with the update).
const char* const kModeNames[] = {"perturb", "update+perturb", "fold"};

ZoPassCoeffs coeffs(int64_t mode) {
  ZoPassCoeffs k;
  k.has_update = mode == 1;
  k.fold_update = mode == 2;
  k.update_seed = 11;
  k.lr = 1e-6f;
  k.projected_grad = 0.5f;
  k.weight_decay = 0.01f;
  k.perturb_seed = 12;
  k.perturb_scale = 1e-3f;
  return k;
}

// One OPT block as the engine lays it out (args: 0 = opt-125m block for the CPU, 1 = opt-6.7b block for the GPU).
SlabLayout layout_for(int which, DType dt) {
  return block_layout(model_preset(which ? "opt-6.7b" : "opt-125m"), 0, dt);
}

void BM_ZoPassCpu(benchmark::State& state) {
  const DType dt = kDtypes[state.range(0)];
  const SlabLayout layout = layout_for(0, dt);
  ParamSlab slab = ParamSlab::allocate(layout, at::kCPU);
  slab.flat.normal_(0.0, 0.02);
  const auto segments = zo_segments(layout);
  const ZoPassCoeffs k = coeffs(state.range(1));
  for (auto _ : state) zo_pass_cpu(slab.flat.data_ptr(), dt, segments, k);
  state.SetBytesProcessed(int64_t(state.iterations()) * 2 * layout.bytes());
  state.SetLabel(std::string(dtype_name(dt)) + " " + kModeNames[state.range(1)]);
}
BENCHMARK(BM_ZoPassCpu)->ArgsProduct({{0, 1, 2}, {0, 1, 2}})->Unit(benchmark::kMillisecond);

#ifdef ZO2_HAVE_CUDA
void BM_ZoPassCuda(benchmark::State& state) {
  if (!cuda_available()) {
    state.SkipWithError("no GPU");
    return;
  }
  const DType dt = kDtypes[state.range(0)];
  const SlabLayout layout = layout_for(1, dt);
  ParamSlab slab = ParamSlab::allocate(layout, at::kCUDA);
  slab.flat.normal_(0.0, 0.02);
  at::Tensor other = at::empty_like(slab.flat);
  const auto segments = zo_segments(layout);
  const ZoPassCoeffs k = coeffs(state.range(1));
  const int groups_per_thread = int(state.range(2));
  const int min_blocks = int(state.range(3));
  const int64_t bytes = layout.bytes();
  auto copy = [&](cudaStream_t s) {
    CUDA_CHECK(cudaMemcpyAsync(other.data_ptr(), slab.flat.data_ptr(), size_t(bytes), cudaMemcpyDeviceToDevice, s));
  };
  auto pass = [&](cudaStream_t s) {
    zo_pass_cuda(slab.flat.data_ptr(), dt, segments, k, s, groups_per_thread, min_blocks);
  };
  cudaStream_t stream = static_cast<cudaStream_t>(current_cuda_stream());
  bench::event_ms(stream, [&] { copy(stream); }, 3);  // warm-up: module load, clocks
  bench::event_ms(stream, [&] { pass(stream); }, 3);
  // The copy and the pass alternate, so both see the same clocks and temperature; the fraction compares their
  // medians (one sample of each drifted by up to 10 % between runs of the same kernel).
  std::vector<double> copy_samples, pass_samples;
  for (auto _ : state) {
    copy_samples.push_back(bench::event_ms(stream, [&] { copy(stream); }, 10));
    pass_samples.push_back(bench::event_ms(stream, [&] { pass(stream); }, 10));
    state.SetIterationTime(pass_samples.back() / 1e3);
  }
  const double pass_gbs = 2.0 * double(bytes) / 1e9 / (median(pass_samples) / 1e3);
  const double copy_gbs = 2.0 * double(bytes) / 1e9 / (median(copy_samples) / 1e3);
  state.SetBytesProcessed(int64_t(state.iterations()) * 2 * bytes);
  state.counters["pass_GBps"] = pass_gbs;
  state.counters["copy_GBps"] = copy_gbs;
  state.counters["copy_fraction"] = pass_gbs / copy_gbs;
  state.SetLabel(std::string(dtype_name(dt)) + " " + kModeNames[state.range(1)] + " opt-6.7b block" +
                 (groups_per_thread ? " groups/thread " + std::to_string(groups_per_thread) : " default") +
                 (min_blocks >= 0 ? " min blocks/SM " + std::to_string(min_blocks) : ""));
}
// Arguments: dtype, pass (kModeNames), groups of four elements per thread (0 = the tuned default), thread blocks per SM the
// registers must allow (0 = the compiler's choice, -1 = the tuned default). Label "default": what the engine runs.
BENCHMARK(BM_ZoPassCuda)
    ->ArgsProduct({{0, 1, 2}, {0, 1, 2}, {0, 4, 8}, {-1, 0, 4, 8}})
    ->UseManualTime()
    ->Iterations(20)
    ->Unit(benchmark::kMillisecond);
#endif

}  // namespace

BENCHMARK_MAIN();
