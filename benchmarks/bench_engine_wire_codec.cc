// The lossless wire codec's GPU decode and encode per OPT block size (N(0, 0.02) weights), beside a device-to-device
// copy of the decoded bytes: the rates the plan prices the codec at. GB/s counters are of decoded (raw) bytes.
#include <random>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "core/model_shape.h"
#include "core/slab_layout.h"
#include "core/wire_codec.h"
#include "engine/io/half_convert.h"
#include "engine/wire_codec_cuda.h"

#ifdef ZO2_HAVE_CUDA
#include <cuda_runtime.h>

#include "benchmarks/cuda_event_time.h"
#include "engine/cuda_check.h"
#endif

namespace {

using namespace zo2;

#ifdef ZO2_HAVE_CUDA
const char* kModels[] = {"opt-1.3b", "opt-6.7b", "opt-13b", "opt-30b"};

// One block of the model, on the host and coded, and on the GPU raw and coded.
struct Block {
  int64_t n = 0, coded = 0;
  void *raw = nullptr, *out = nullptr, *blob = nullptr, *blob2 = nullptr, *scratch = nullptr;
  Block(const std::string& model, DType dt) {
    n = block_layout(model_preset(model), 0, dt).elements;
    std::vector<uint16_t> host(static_cast<size_t>(n));
    std::mt19937_64 rng(1234);
    std::normal_distribution<float> d(0.0f, 0.02f);
    for (auto& w : host) w = dt == DType::bf16 ? io::float_to_bf16_bits(d(rng)) : io::float_to_half_bits(d(rng));
    const WireCodecTable table = wire_codec_table(dt, host.data(), n);
    std::vector<uint8_t> cpu_blob(static_cast<size_t>(wire_codec_max_bytes(n)));
    coded = wire_codec_encode(table, host.data(), n, cpu_blob.data(), int64_t(cpu_blob.size()));
    CUDA_CHECK(cudaMalloc(&raw, 2 * size_t(n)));
    CUDA_CHECK(cudaMalloc(&out, 2 * size_t(n)));
    CUDA_CHECK(cudaMalloc(&blob, cpu_blob.size()));
    CUDA_CHECK(cudaMalloc(&blob2, cpu_blob.size()));
    CUDA_CHECK(cudaMalloc(&scratch, size_t(wire_codec_cuda_scratch_bytes(n))));
    CUDA_CHECK(cudaMemcpy(raw, host.data(), 2 * size_t(n), cudaMemcpyHostToDevice));
    CUDA_CHECK(cudaMemcpy(blob, cpu_blob.data(), size_t(coded), cudaMemcpyHostToDevice));
  }
  ~Block() {
    cudaFree(raw);
    cudaFree(out);
    cudaFree(blob);
    cudaFree(blob2);
    cudaFree(scratch);
  }
};

bool have_gpu() {
  int count = 0;
  return cudaGetDeviceCount(&count) == cudaSuccess && count > 0;
}

// Arguments: model index, dtype (0 = bf16, 1 = fp16), operation (0 = decode, 1 = encode, 2 = device copy).
void BM_WireCodec(benchmark::State& state) {
  if (!have_gpu()) {
    state.SkipWithError("no GPU");
    return;
  }
  const DType dt = state.range(1) == 0 ? DType::bf16 : DType::f16;
  const int op = int(state.range(2));
  Block b(kModels[state.range(0)], dt);
  cudaStream_t stream;
  CUDA_CHECK(cudaStreamCreate(&stream));
  auto run = [&] {
    if (op == 0) wire_codec_decode_cuda(b.blob, dt, b.n, static_cast<uint16_t*>(b.out), stream);
    if (op == 1) wire_codec_encode_cuda(b.blob, dt, static_cast<const uint16_t*>(b.raw), b.n, b.blob2, b.scratch, stream);
    if (op == 2) CUDA_CHECK(cudaMemcpyAsync(b.out, b.raw, 2 * size_t(b.n), cudaMemcpyDeviceToDevice, stream));
  };
  for (int i = 0; i < 3; ++i) run();
  for (auto _ : state) state.SetIterationTime(bench::event_ms(stream, run, 5) / 1e3);
  CUDA_CHECK(cudaStreamDestroy(stream));
  const double raw_bytes = 2.0 * double(b.n);
  state.SetLabel(std::string(kModels[state.range(0)]) + " " + std::string(dtype_name(dt)) + " " +
                 (op == 0 ? "decode" : op == 1 ? "encode" : "d2d-copy"));
  state.counters["raw_GBps"] = benchmark::Counter(raw_bytes * double(state.iterations()) / 1e9,
                                                  benchmark::Counter::kIsRate);
  state.counters["block_MB"] = raw_bytes / 1e6;
  state.counters["ratio"] = double(b.coded) / raw_bytes;
}
BENCHMARK(BM_WireCodec)
    ->ArgsProduct({{0, 1, 2, 3}, {0, 1}, {0, 1, 2}})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond)
    ->Iterations(10);
#endif

// The CPU codec on one OPT-1.3B block (multi-threaded encode and decode): the host side of the first encoding.
void BM_WireCodecCpu(benchmark::State& state) {
  const DType dt = DType::bf16;
  const int64_t n = block_layout(model_preset("opt-1.3b"), 0, dt).elements;
  std::vector<uint16_t> host(static_cast<size_t>(n));
  std::mt19937_64 rng(99);
  std::normal_distribution<float> d(0.0f, 0.02f);
  for (auto& w : host) w = io::float_to_bf16_bits(d(rng));
  const WireCodecTable table = wire_codec_table(dt, host.data(), n);
  std::vector<uint8_t> blob(static_cast<size_t>(wire_codec_max_bytes(n)));
  const bool encode = state.range(0) == 0;
  int64_t coded = wire_codec_encode(table, host.data(), n, blob.data(), int64_t(blob.size()));
  for (auto _ : state) {
    if (encode)
      coded = wire_codec_encode(table, host.data(), n, blob.data(), int64_t(blob.size()));
    else
      wire_codec_decode(blob.data(), coded, host.data(), n);
  }
  state.SetLabel(encode ? "opt-1.3b bf16 cpu encode" : "opt-1.3b bf16 cpu decode");
  state.counters["raw_GBps"] = benchmark::Counter(2.0 * double(n) * double(state.iterations()) / 1e9,
                                                  benchmark::Counter::kIsRate);
}
BENCHMARK(BM_WireCodecCpu)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
