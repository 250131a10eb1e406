// Can a fused ZO pass hide behind a block's forward? One OPT-6.7B block's forward (fp16, batch 1, seq 2048) on one
// stream while another block's ZO pass runs on a second stream, against the two back to back on one stream. The
// 16-bit passes are bound by integer issue and the forward by tensor cores, so running them side by side could hide
// part of the ZO time; this measures how much before any schedule is built on it.
#include <vector>

#include <benchmark/benchmark.h>

#include <ATen/ATen.h>

#include "core/median.h"
#include "core/model_shape.h"
#include "core/slab_layout.h"
#include "engine/model_forward.h"
#include "engine/param_slab.h"
#include "engine/zo_kernels.h"

#ifdef ZO2_HAVE_CUDA
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <cuda_runtime.h>

#include "engine/cuda_check.h"
#include "benchmarks/cuda_event_time.h"
#include "engine/cuda_glue.h"
#endif

namespace {

using namespace zo2;

#ifdef ZO2_HAVE_CUDA
// Argument: the ZO pass beside the forward (0 = +eps only, 1 = pending update and +eps, 2 = the folded restore).
void BM_ForwardBesideZoPass(benchmark::State& state) {
  if (!cuda_available()) {
    state.SkipWithError("no GPU");
    return;
  }
  const int mode = int(state.range(0));
  const ModelShape shape = model_preset("opt-6.7b");
  const DType dt = DType::f16;
  ParamSlab forward_block = ParamSlab::allocate(block_layout(shape, 0, dt), at::kCUDA);
  ParamSlab zo_block = ParamSlab::allocate(block_layout(shape, 1, dt), at::kCUDA);
  forward_block.flat.normal_(0.0, 0.02);
  zo_block.flat.normal_(0.0, 0.02);
  const at::Tensor hidden = at::randn({1, 2048, shape.hidden}, at::TensorOptions().dtype(at::kHalf).device(at::kCUDA));
  const auto segments = zo_segments(zo_block.layout);
  ZoPassCoeffs k;
  k.has_update = mode == 1;
  k.fold_update = mode == 2;
  k.update_seed = 11;
  k.perturb_seed = 12;
  k.lr = 1e-6f;
  k.projected_grad = 0.5f;
  k.perturb_scale = 1e-3f;

  c10::cuda::CUDAStream main = c10::cuda::getStreamFromPool(), side = c10::cuda::getStreamFromPool();
  c10::cuda::CUDAStreamGuard guard(main);
  cudaEvent_t fork, join;
  CUDA_CHECK(cudaEventCreateWithFlags(&fork, cudaEventDisableTiming));
  CUDA_CHECK(cudaEventCreateWithFlags(&join, cudaEventDisableTiming));
  at::Tensor out;
  auto forward = [&] { out = model_block(shape, forward_block, hidden); };
  auto zo_on = [&](cudaStream_t s) { zo_pass_cuda(zo_block.flat.data_ptr(), dt, segments, k, s); };
  auto sequential = [&] {
    forward();
    zo_on(main.stream());
  };
  auto concurrent = [&] {
    CUDA_CHECK(cudaEventRecord(fork, main.stream()));
    CUDA_CHECK(cudaStreamWaitEvent(side.stream(), fork, 0));
    zo_on(side.stream());
    forward();
    CUDA_CHECK(cudaEventRecord(join, side.stream()));
    CUDA_CHECK(cudaStreamWaitEvent(main.stream(), join, 0));
  };
  for (int i = 0; i < 3; ++i) {  // warm-up: cuBLAS handles, workspace, clocks
    sequential();
    concurrent();
  }
  CUDA_CHECK(cudaStreamSynchronize(main.stream()));
  std::vector<double> fwd_ms, zo_ms, seq_ms, conc_ms;
  for (auto _ : state) {  // interleaved, so all four see the same clocks
    fwd_ms.push_back(bench::event_ms(main.stream(), forward, 5));
    zo_ms.push_back(bench::event_ms(main.stream(), [&] { zo_on(main.stream()); }, 5));
    seq_ms.push_back(bench::event_ms(main.stream(), sequential, 5));
    conc_ms.push_back(bench::event_ms(main.stream(), concurrent, 5));
    state.SetIterationTime(conc_ms.back() / 1e3);
  }
  CUDA_CHECK(cudaEventDestroy(fork));
  CUDA_CHECK(cudaEventDestroy(join));
  const double f = median(fwd_ms), z = median(zo_ms), s = median(seq_ms), c = median(conc_ms);
  state.counters["forward_ms"] = f;
  state.counters["zo_ms"] = z;
  state.counters["sequential_ms"] = s;
  state.counters["concurrent_ms"] = c;
  // The share of the shorter op's time that running side by side saves (0: none, 1: fully hidden).
  state.counters["hidden_fraction"] = (s - c) / std::min(f, z);
  static const char* const kNames[] = {"perturb", "update+perturb", "fold"};
  state.SetLabel(std::string("fp16 opt-6.7b block forward beside ") + kNames[mode]);
}
BENCHMARK(BM_ForwardBesideZoPass)->DenseRange(0, 2)->UseManualTime()->Iterations(15)->Unit(benchmark::kMillisecond);
#endif

}  // namespace

BENCHMARK_MAIN();
