// What --fused-kernels buys: one rotary block's forward (fp16, batch 1, seq 2048) with transformers' ops and with the
// fused path (engine/rotary_fused.h), interleaved so both see the same clocks, per preset (LLaMA, Qwen3, Mistral).
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include <ATen/ATen.h>

#include "core/median.h"
#include "core/model_shape.h"
#include "core/slab_layout.h"
#include "engine/model_forward.h"
#include "engine/param_slab.h"

#ifdef ZO2_HAVE_CUDA
#include <c10/cuda/CUDAStream.h>

#include "benchmarks/cuda_event_time.h"
#include "engine/cuda_glue.h"
#endif

namespace {

using namespace zo2;

#ifdef ZO2_HAVE_CUDA
const std::vector<std::string> kPresets{"llama-2-7b", "llama-3-8b", "qwen3-8b", "mistral-7b-v0.3"};

// Argument: index into kPresets.
void BM_RotaryBlockForward(benchmark::State& state) {
  if (!cuda_available()) {
    state.SkipWithError("no GPU");
    return;
  }
  const std::string& name = kPresets[size_t(state.range(0))];
  const ModelShape shape = model_preset(name);
  ParamSlab block = ParamSlab::allocate(block_layout(shape, 0, DType::f16), at::kCUDA);
  block.flat.normal_(0.0, 0.02);
  const at::Tensor hidden = at::randn({1, 2048, shape.hidden}, at::TensorOptions().dtype(at::kHalf).device(at::kCUDA));
  const cudaStream_t stream = c10::cuda::getCurrentCUDAStream().stream();
  at::Tensor out;
  auto hf = [&] { out = model_block(shape, block, hidden, ForwardOptions{false}); };
  auto fused = [&] { out = model_block(shape, block, hidden, ForwardOptions{true}); };
  for (int i = 0; i < 3; ++i) {  // warm-up: cuBLAS handles, the rotary cache, clocks
    hf();
    fused();
  }
  std::vector<double> hf_ms, fused_ms;
  for (auto _ : state) {
    hf_ms.push_back(bench::event_ms(stream, hf, 5));
    fused_ms.push_back(bench::event_ms(stream, fused, 5));
    state.SetIterationTime(fused_ms.back() / 1e3);
  }
  const double h = median(hf_ms), f = median(fused_ms);
  state.counters["hf_ms"] = h;
  state.counters["fused_ms"] = f;
  state.counters["speedup"] = h / f;
  state.SetLabel("fp16 " + name + " block forward, batch 1, seq 2048");
}
BENCHMARK(BM_RotaryBlockForward)->DenseRange(0, 3)->UseManualTime()->Iterations(15)->Unit(benchmark::kMillisecond);
#endif

}  // namespace

BENCHMARK_MAIN();
