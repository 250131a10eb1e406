// zo2 calibrate's measurements: each quantity timed with CUDA events (host clocks where the cost is on the host)
// after a warm-up, the median of the repeats. The GPU work runs on a pool stream, as the CUDA executor's does.
#include "engine/calibrate.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <cuda_runtime.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <set>
#include <stdexcept>

#include "core/median.h"
#include "core/results_csv.h"
#include "core/slab_layout.h"
#include "core/wire_codec.h"
#include "core/zo_math.h"
#include "engine/cuda_check.h"
#include "engine/cuda_glue.h"
#include "engine/zo_kernels.h"
#include "engine/model_forward.h"
#include "engine/param_slab.h"
#include "engine/step_state.h"
#include "engine/wire_codec_cuda.h"

namespace zo2 {

namespace {

// The block forward the timings measure: the one zo2 train runs by default (--fused-kernels on).
const ForwardOptions kTimedForward{/*fused_kernels=*/Policy{}.fused_kernels};

struct Events {
  cudaEvent_t start = nullptr, stop = nullptr;
  Events() {
    CUDA_CHECK(cudaEventCreate(&start));
    CUDA_CHECK(cudaEventCreate(&stop));
  }
  ~Events() {
    cudaEventDestroy(start);
    cudaEventDestroy(stop);
  }
  Events(const Events&) = delete;
  Events& operator=(const Events&) = delete;
  double seconds() const {
    CUDA_CHECK(cudaEventSynchronize(stop));
    float ms = 0;
    CUDA_CHECK(cudaEventElapsedTime(&ms, start, stop));
    return double(ms) * 1e-3;
  }
};

// Seconds per call of `enqueue` (which puts work on `stream`): events around `iters` calls, median over repeats.
template <class F>
double gpu_seconds(cudaStream_t stream, int warmup, int repeats, int iters, F&& enqueue) {
  for (int w = 0; w < warmup; ++w) enqueue();
  CUDA_CHECK(cudaStreamSynchronize(stream));
  Events ev;
  std::vector<double> t;
  for (int r = 0; r < repeats; ++r) {
    CUDA_CHECK(cudaEventRecord(ev.start, stream));
    for (int i = 0; i < iters; ++i) enqueue();
    CUDA_CHECK(cudaEventRecord(ev.stop, stream));
    t.push_back(ev.seconds() / iters);
  }
  return median(t);
}

// Seconds per call of a host-side action (its cost is on the host: allocation calls, the loss read).
template <class F>
double host_seconds(int warmup, int repeats, F&& action) {
  for (int w = 0; w < warmup; ++w) action();
  std::vector<double> t;
  for (int r = 0; r < repeats; ++r) {
    const auto a = std::chrono::steady_clock::now();
    action();
    t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - a).count());
  }
  return median(t);
}

// Enough back-to-back copies of a small size that one timing covers about 64 MiB (event resolution is ~0.5 us).
int copy_iters(int64_t bytes) { return int(std::clamp<int64_t>((int64_t(64) << 20) / std::max<int64_t>(bytes, 1), 1, 64)); }

at::Tensor device_bytes(int64_t bytes) {
  return at::empty({bytes}, at::TensorOptions().dtype(at::kByte).device(at::kCUDA));
}
// Pinned from the engine's own allocator (the host slabs are allocated this way); pageable touched up front so the
// first copy does not pay the page faults.
at::Tensor host_bytes(int64_t bytes, bool pinned) {
  if (pinned) return allocate_aligned((bytes + 3) / 4, DType::f32, at::kCPU, /*pinned=*/true);  // used as raw bytes
  return at::zeros({bytes}, at::TensorOptions().dtype(at::kByte));
}

void log(bool verbose, const std::string& line) {
  if (verbose) fmt::print(stderr, "calibrate: {}\n", line);
}

std::string gbps(double bytes_per_second) { return fmt::format("{:.2f} GB/s", bytes_per_second / 1e9); }

}  // namespace

CopyRates measure_copy_rates(const std::vector<int64_t>& sizes, bool pinned, int warmup, int repeats) {
  const int64_t largest = *std::max_element(sizes.begin(), sizes.end());
  at::Tensor host = host_bytes(largest, pinned), dev = device_bytes(largest);
  c10::cuda::CUDAStream stream = c10::cuda::getStreamFromPool(/*isHighPriority=*/true);
  CopyRates out;
  for (int64_t bytes : sizes) {
    const int iters = copy_iters(bytes);
    const double up = gpu_seconds(stream.stream(), warmup, repeats, iters, [&] {
      CUDA_CHECK(cudaMemcpyAsync(dev.data_ptr(), host.data_ptr(), size_t(bytes), cudaMemcpyHostToDevice, stream.stream()));
    });
    const double down = gpu_seconds(stream.stream(), warmup, repeats, iters, [&] {
      CUDA_CHECK(cudaMemcpyAsync(host.data_ptr(), dev.data_ptr(), size_t(bytes), cudaMemcpyDeviceToHost, stream.stream()));
    });
    out.h2d.emplace_back(double(bytes), double(bytes) / up);
    out.d2h.emplace_back(double(bytes), double(bytes) / down);
  }
  return out;
}

double measure_concurrent_rate(int64_t bytes, int warmup, int repeats) {
  at::Tensor host_up = host_bytes(bytes, true), host_down = host_bytes(bytes, true);
  at::Tensor dev_up = device_bytes(bytes), dev_down = device_bytes(bytes);
  c10::cuda::CUDAStream up = c10::cuda::getStreamFromPool(true), down = c10::cuda::getStreamFromPool(true);
  const int iters = std::max(1, copy_iters(bytes) / 2);
  cudaEvent_t forked = nullptr, joined = nullptr;
  CUDA_CHECK(cudaEventCreateWithFlags(&forked, cudaEventDisableTiming));
  CUDA_CHECK(cudaEventCreateWithFlags(&joined, cudaEventDisableTiming));
  // The timed unit: both directions start together (the down stream waits for the up stream's start) and the up
  // stream waits for the down stream's end, so the events on `up` bracket both.
  auto both = [&] {
    CUDA_CHECK(cudaEventRecord(forked, up.stream()));
    CUDA_CHECK(cudaStreamWaitEvent(down.stream(), forked, 0));
    for (int i = 0; i < iters; ++i) {
      CUDA_CHECK(cudaMemcpyAsync(dev_up.data_ptr(), host_up.data_ptr(), size_t(bytes), cudaMemcpyHostToDevice, up.stream()));
      CUDA_CHECK(cudaMemcpyAsync(host_down.data_ptr(), dev_down.data_ptr(), size_t(bytes), cudaMemcpyDeviceToHost,
                                 down.stream()));
    }
    CUDA_CHECK(cudaEventRecord(joined, down.stream()));
    CUDA_CHECK(cudaStreamWaitEvent(up.stream(), joined, 0));
  };
  double seconds = 0;
  try {
    seconds = gpu_seconds(up.stream(), warmup, repeats, 1, both);
  } catch (...) {
    cudaEventDestroy(forked);
    cudaEventDestroy(joined);
    throw;
  }
  CUDA_CHECK(cudaEventDestroy(forked));
  CUDA_CHECK(cudaEventDestroy(joined));
  return 2.0 * double(bytes) * iters / seconds;
}

double measure_cuda_malloc_free(int64_t bytes, int warmup, int repeats) {
  cuda_synchronize();  // cudaFree synchronises the device: time the pair on an idle one
  return host_seconds(warmup, repeats, [&] {
    void* p = nullptr;
    CUDA_CHECK(cudaMalloc(&p, size_t(bytes)));
    CUDA_CHECK(cudaFree(p));
  });
}

double measure_caching_alloc(int64_t bytes, bool zero, int warmup, int repeats) {
  c10::cuda::CUDAStream compute = c10::cuda::getStreamFromPool();
  c10::cuda::CUDAStream h2d = c10::cuda::getStreamFromPool(true), d2h = c10::cuda::getStreamFromPool(true);
  c10::cuda::CUDAStreamGuard guard(compute);
  const int64_t elements = (bytes + 1) / 2;
  // As the CUDA executor's alloc op (engine/step_ops.cc): allocate_aligned through the caching allocator on the
  // compute stream (no fill since 5c64509; `zero` times the filled variant the engine used before), the buffer
  // recorded on both copy streams; the release is the tensor going out of scope (free op).
  return gpu_seconds(compute.stream(), warmup, repeats, 8, [&] {
    at::Tensor b = allocate_aligned(elements, DType::f16, at::kCUDA, /*pinned=*/false, zero);
    b.record_stream(h2d);
    b.record_stream(d2h);
  });
}

CodecRates measure_codec_rates(int64_t bytes, int warmup, int repeats) {
  c10::cuda::CUDAStream s = c10::cuda::getStreamFromPool();
  c10::cuda::CUDAStreamGuard guard(s);
  const int64_t n = bytes / 2;
  const auto on_gpu = at::TensorOptions().device(at::kCUDA);
  at::Tensor block = at::empty({n}, on_gpu.dtype(at::kBFloat16));
  block.normal_(0.0, 0.02);
  const at::Tensor host = block.cpu();
  const auto* words = static_cast<const uint16_t*>(host.data_ptr());
  const WireCodecTable table = wire_codec_table(DType::bf16, words, n);
  at::Tensor blob = at::empty({wire_codec_max_bytes(n)}, at::TensorOptions().dtype(at::kByte));
  wire_codec_encode(table, words, n, blob.data_ptr<uint8_t>(), blob.numel());
  at::Tensor dev_blob = blob.to(at::kCUDA);
  at::Tensor out = at::empty_like(block);
  at::Tensor scratch = at::empty({wire_codec_cuda_scratch_bytes(n)}, on_gpu.dtype(at::kByte));
  auto* out_words = static_cast<uint16_t*>(out.data_ptr());
  auto* block_words = static_cast<uint16_t*>(block.data_ptr());
  CodecRates r;
  const double decode = gpu_seconds(s.stream(), warmup, repeats, 1, [&] {
    wire_codec_decode_cuda(dev_blob.data_ptr(), DType::bf16, n, out_words, s.stream());
  });
  if (!at::equal(out, block)) throw std::runtime_error("zo2 calibrate: the GPU wire codec did not decode its block bitwise");
  const double encode = gpu_seconds(s.stream(), warmup, repeats, 1, [&] {
    wire_codec_encode_cuda(dev_blob.data_ptr(), DType::bf16, block_words, n, dev_blob.data_ptr(), scratch.data_ptr(),
                           s.stream());
  });
  r.decode_bytes_per_second = double(2 * n) / decode;
  r.encode_bytes_per_second = double(2 * n) / encode;
  return r;
}

double measure_gemm_rate(DType dtype, int64_t n, int warmup, int repeats) {
  c10::cuda::CUDAStream s = c10::cuda::getStreamFromPool();
  c10::cuda::CUDAStreamGuard guard(s);
  auto opts = at::TensorOptions().dtype(to_scalar_type(dtype)).device(at::kCUDA);
  at::Tensor a = at::randn({n, n}, opts), b = at::randn({n, n}, opts), c = at::empty({n, n}, opts);
  const double t = gpu_seconds(s.stream(), warmup, repeats, 2, [&] { at::mm_out(c, a, b); });
  return 2.0 * double(n) * double(n) * double(n) / t;
}

double measure_device_copy_rate(int64_t bytes, int warmup, int repeats) {
  c10::cuda::CUDAStream s = c10::cuda::getStreamFromPool();
  c10::cuda::CUDAStreamGuard guard(s);
  at::Tensor src = device_bytes(bytes), dst = device_bytes(bytes);
  src.fill_(1);
  const double t = gpu_seconds(s.stream(), warmup, repeats, 4, [&] { dst.copy_(src); });
  return 2.0 * double(bytes) / t;
}

double measure_launch_overhead(int warmup, int repeats) {
  c10::cuda::CUDAStream s = c10::cuda::getStreamFromPool();
  c10::cuda::CUDAStreamGuard guard(s);
  at::Tensor x = at::zeros({1}, at::TensorOptions().dtype(at::kFloat).device(at::kCUDA));
  // Launch-bound: each kernel is far shorter than its launch, so the events see the launch rate.
  return gpu_seconds(s.stream(), warmup, repeats, 2000, [&] { x.add_(1.0); });
}

double measure_host_sync(int warmup, int repeats) {
  c10::cuda::CUDAStream s = c10::cuda::getStreamFromPool();
  c10::cuda::CUDAStreamGuard guard(s);
  auto opts = at::TensorOptions().dtype(at::kFloat).device(at::kCUDA);
  at::Tensor plus = at::ones({}, opts), minus = at::ones({}, opts);
  double sink = 0;
  const double t = host_seconds(warmup, std::max(repeats, 25), [&] {
    // The loss op of the engine (engine/step_ops.cc): both losses in one copy, then two host reads.
    at::Tensor both = at::stack({plus, minus}).to(at::kDouble).cpu();
    sink += both[0].item<double>() + both[1].item<double>();
  });
  if (sink < 0) fmt::print(stderr, " ");  // keeps the reads from being optimised away
  return t;
}

// The coefficients of timed ZO passes: a typical MeZO step (lr 1e-7, g 1), fixed seeds; the caller sets the scales.
static ZoPassCoeffs timing_coeffs() {
  ZoPassCoeffs k;
  k.lr = 1e-7f;
  k.projected_grad = 1.0f;
  k.weight_decay = 0.0f;
  k.update_seed = 11;
  k.perturb_seed = 12;
  return k;
}

double measure_host_update_rate(int64_t elements, int warmup, int repeats) {
  const SlabLayout layout = make_slab_layout({{"w", {elements}, true}}, 0, DType::f32);
  ParamSlab slab = ParamSlab::allocate(layout, at::kCPU);
  slab.flat.normal_(0.0, 0.02);
  ZoPassCoeffs k = timing_coeffs();
  k.has_update = true;
  k.perturb_scale = 0.0f;  // update only: the host applies the pending update to its master
  const double t = host_seconds(warmup, repeats, [&] { zo_pass(slab, k); });
  return double(elements) / t;
}

BlockTimes measure_block(const ModelShape& shape, DType dtype, int64_t batch, int64_t seq, bool zo, int warmup,
                         int repeats) {
  c10::cuda::CUDAStream s = c10::cuda::getStreamFromPool();
  c10::cuda::CUDAStreamGuard guard(s);
  ParamSlab slab = ParamSlab::allocate(block_layout(shape, 0, dtype), at::kCUDA);
  slab.flat.normal_(0.0, 0.02);  // never zeros: timings on zero weights can flatter the kernels
  at::Tensor hidden = at::randn({batch, seq, shape.hidden}, at::TensorOptions().dtype(to_scalar_type(dtype)).device(at::kCUDA));
  BlockTimes out;
  out.slab_bytes = slab.layout.bytes();
  out.params = slab.layout.params();
  at::Tensor h;
  out.forward_seconds =
      gpu_seconds(s.stream(), warmup, repeats, 1, [&] { h = model_block(shape, slab, hidden, kTimedForward); });
  if (!zo) return out;
  ZoPassCoeffs k = timing_coeffs();
  float sign = 1.0f;  // alternate +eps/-eps so the weights stay near where they started
  k.has_update = true;
  out.zo_update_seconds = gpu_seconds(s.stream(), warmup, repeats, 2, [&] {
    k.perturb_scale = (sign = -sign) * 1e-3f;
    zo_pass(slab, k);
  });
  k.has_update = false;
  out.zo_perturb_seconds = gpu_seconds(s.stream(), warmup, repeats, 2, [&] {
    k.perturb_scale = (sign = -sign) * 1e-3f;
    zo_pass(slab, k);
  });
  // The folded restore (zo=/L with --fold-update): one z, then this step's update; no pending one.
  k.fold_update = true;
  out.zo_fold_seconds = gpu_seconds(s.stream(), warmup, repeats, 2, [&] {
    k.perturb_scale = (sign = -sign) * 1e-3f;
    zo_pass(slab, k);
  });
  return out;
}

double measure_block_loop(const ModelShape& shape, DType dtype, int64_t batch, int64_t seq, int64_t slabs,
                          double seconds) {
  c10::cuda::CUDAStream s = c10::cuda::getStreamFromPool();
  c10::cuda::CUDAStreamGuard guard(s);
  std::vector<ParamSlab> blocks;
  for (int64_t l = 0; l < slabs; ++l) {
    blocks.push_back(ParamSlab::allocate(block_layout(shape, l, dtype), at::kCUDA));
    blocks.back().flat.normal_(0.0, 0.02);
  }
  at::Tensor hidden = at::randn({batch, seq, shape.hidden}, at::TensorOptions().dtype(to_scalar_type(dtype)).device(at::kCUDA));
  ZoPassCoeffs k = timing_coeffs();
  at::Tensor h;
  // One pass over the blocks as a resident step runs them (core/plan.cc, --fold-update on: zo+ is +eps only, fwd+,
  // zo-, fwd-, and zo= applies the update). A step runs a block's zo= after the loss, not right after its fwd-; the
  // passes per block are the same.
  auto pass = [&] {
    for (ParamSlab& b : blocks) {
      k.fold_update = false;
      k.perturb_scale = 1e-3f;
      zo_pass(b, k);
      h = model_block(shape, b, hidden, kTimedForward);
      k.perturb_scale = -2e-3f;
      zo_pass(b, k);
      h = model_block(shape, b, hidden, kTimedForward);
      k.fold_update = true;
      k.perturb_scale = 1e-3f;
      zo_pass(b, k);
    }
  };
  using clock = std::chrono::steady_clock;
  auto elapsed = [](clock::time_point a) { return std::chrono::duration<double>(clock::now() - a).count(); };
  // Load before timing (1 s, or `seconds` when shorter): the clocks and the allocator settle as they do a few steps
  // into a run.
  const auto warm = clock::now();
  int64_t passes_warm = 0;
  do {
    pass();
    CUDA_CHECK(cudaStreamSynchronize(s.stream()));
    ++passes_warm;
  } while (elapsed(warm) < std::min(1.0, seconds));
  const double pass_seconds = elapsed(warm) / double(passes_warm);
  const int per_window = int(std::max(1.0, std::round(0.5 / pass_seconds)));
  Events ev;
  std::vector<double> windows;
  const auto timed = clock::now();
  do {
    CUDA_CHECK(cudaEventRecord(ev.start, s.stream()));
    for (int i = 0; i < per_window; ++i) pass();
    CUDA_CHECK(cudaEventRecord(ev.stop, s.stream()));
    windows.push_back(ev.seconds() / double(per_window * slabs));
  } while (elapsed(timed) < seconds || windows.size() < 3);
  return median(windows);
}

EmbedHeadTimes measure_embed_head(const ModelShape& shape, DType dtype, int64_t batch, int64_t seq, int warmup,
                                  int repeats) {
  c10::cuda::CUDAStream s = c10::cuda::getStreamFromPool();
  c10::cuda::CUDAStreamGuard guard(s);
  ParamSlab resident = ParamSlab::allocate(resident_layout(shape, dtype), at::kCUDA);
  resident.flat.normal_(0.0, 0.02);
  at::Tensor ids = at::randint(shape.vocab_size, {batch, seq}, at::TensorOptions().dtype(at::kLong).device(at::kCUDA));
  at::Tensor hidden = at::randn({batch, seq, shape.hidden}, at::TensorOptions().dtype(to_scalar_type(dtype)).device(at::kCUDA));
  EmbedHeadTimes out;
  at::Tensor sink;
  out.embed_seconds = gpu_seconds(s.stream(), warmup, repeats, 2, [&] { sink = model_embed(shape, resident, ids); });
  out.head_loss_seconds =
      gpu_seconds(s.stream(), warmup, repeats, 1, [&] { sink = causal_lm_loss(shape, resident, hidden, ids); });
  return out;
}

namespace {

void check_options(const CalibrateOptions& o) {
  if (o.models.empty()) throw std::invalid_argument("--models: expected at least one model preset");
  if (o.batch < 1) throw std::invalid_argument(fmt::format("--batch: expected an integer >= 1, got {}", o.batch));
  if (o.seq < 1) throw std::invalid_argument(fmt::format("--seq: expected an integer >= 1, got {}", o.seq));
  if (o.dtype == DType::fp8_e4m3) throw std::invalid_argument("--dtype: expected a compute format (fp32, bf16 or fp16), got fp8");
  if (o.repeats < 1) throw std::invalid_argument(fmt::format("--repeats: expected an integer >= 1, got {}", o.repeats));
  if (o.warmup < 0) throw std::invalid_argument(fmt::format("--warmup: expected an integer >= 0, got {}", o.warmup));
  if (o.alloc_field != "engine" && o.alloc_field != "cudamalloc")
    throw std::invalid_argument(fmt::format("--alloc-field: expected engine or cudamalloc, got '{}'", o.alloc_field));
  auto positive = [](const std::vector<int64_t>& v, const char* flag) {
    if (v.empty()) throw std::invalid_argument(fmt::format("{}: expected at least one size", flag));
    for (int64_t x : v)
      if (x < 1) throw std::invalid_argument(fmt::format("{}: expected sizes >= 1 byte, got {}", flag, x));
  };
  positive(o.copy_sizes, "--copy-sizes");
  positive(o.alloc_sizes, "--alloc-sizes");
  if (o.concurrent_bytes < 1) throw std::invalid_argument("--concurrent-bytes: expected >= 1 byte");
  if (o.gemm_size < 1) throw std::invalid_argument("--gemm-size: expected an integer >= 1");
  if (o.device_copy_bytes < 1) throw std::invalid_argument("--device-copy-bytes: expected >= 1 byte");
  if (o.host_update_elements < 1) throw std::invalid_argument("--host-update-elements: expected >= 1");
  if (o.codec_bytes < 2) throw std::invalid_argument("calibrate: codec_bytes: expected >= 2 bytes (one bf16 word)");
  if (!(o.resident_seconds >= 0))
    throw std::invalid_argument(fmt::format("--resident-seconds: expected a number >= 0 (0 skips the resident block "
                                            "loop), got {}", o.resident_seconds));
}

ModelShape model_shape(const std::string& name, int64_t seq) {
  ModelShape shape;
  try {
    shape = model_preset(name);
  } catch (const std::exception& e) {
    throw std::invalid_argument(fmt::format("--models: {}", e.what()));
  }
  if (seq > shape.max_positions)
    throw std::invalid_argument(fmt::format("--seq: {} is longer than {}'s {} positions", seq, name, shape.max_positions));
  return shape;
}

}  // namespace

CalibrationMeasurements measure_hardware(const CalibrateOptions& o) {
  check_options(o);
  std::vector<std::pair<std::string, ModelShape>> shapes;
  for (const auto& name : o.models) shapes.emplace_back(name, model_shape(name, o.seq));
  if (!cuda_available())
    throw std::runtime_error("zo2 calibrate: no GPU is visible (CUDA build, but cudaGetDeviceCount found none): run it "
                             "on the GPU machine");
  const bool v = o.verbose;
  CalibrationMeasurements m;
  const GpuInfo info = gpu_info();
  m.name = o.name;
  m.card = info.card;
  m.driver = info.driver;
  m.date = current_date_utc();
  m.commit = current_commit();
  m.gpu_memory_bytes = info.total_bytes;
  m.host_memory_bytes = int64_t(sysconf(_SC_PHYS_PAGES)) * int64_t(sysconf(_SC_PAGESIZE));
  m.repeats = o.repeats;
  m.warmup = o.warmup;
  m.alloc_field = o.alloc_field;
  log(v, fmt::format("{}, driver {}, {:.1f} GiB", m.card, m.driver, double(m.gpu_memory_bytes) / (1 << 30)));

  // Launch overhead first: the forward-efficiency derivation subtracts it.
  m.launch_overhead_seconds = measure_launch_overhead(o.warmup, o.repeats);
  log(v, fmt::format("launch overhead {:.2f} us", m.launch_overhead_seconds * 1e6));
  m.host_sync_seconds = measure_host_sync(o.warmup, o.repeats);
  log(v, fmt::format("host sync (loss read) {:.2f} us", m.host_sync_seconds * 1e6));

  for (bool pinned : {true, false}) {
    CopyRates r = measure_copy_rates(o.copy_sizes, pinned, o.warmup, o.repeats);
    for (size_t i = 0; i < r.h2d.size(); ++i)
      log(v, fmt::format("{} {:>6.0f} MiB: H2D {}, D2H {}", pinned ? "pinned  " : "pageable", r.h2d[i].first / 1048576,
                         gbps(r.h2d[i].second), gbps(r.d2h[i].second)));
    (pinned ? m.h2d_pinned : m.h2d_pageable) = std::move(r.h2d);
    (pinned ? m.d2h_pinned : m.d2h_pageable) = std::move(r.d2h);
  }
  m.concurrent_copy_bytes = double(o.concurrent_bytes);
  m.concurrent_bytes_per_second = measure_concurrent_rate(o.concurrent_bytes, o.warmup, o.repeats);
  log(v, fmt::format("concurrent H2D + D2H at {:.0f} MiB: {} together", m.concurrent_copy_bytes / 1048576,
                     gbps(m.concurrent_bytes_per_second)));

  // Allocation at the listed sizes and at every model's block size (what --slots alloc allocates per upload).
  std::set<int64_t> alloc_sizes(o.alloc_sizes.begin(), o.alloc_sizes.end());
  for (const auto& [name, shape] : shapes) alloc_sizes.insert(block_layout(shape, 0, o.dtype).bytes());
  for (int64_t bytes : alloc_sizes) {
    const double raw = measure_cuda_malloc_free(bytes, o.warmup, o.repeats);
    const double engine = measure_caching_alloc(bytes, /*zero=*/false, o.warmup, o.repeats);
    const double zeroed = measure_caching_alloc(bytes, /*zero=*/true, o.warmup, o.repeats);
    m.cuda_malloc_free_seconds.emplace_back(double(bytes), raw);
    m.caching_alloc_seconds.emplace_back(double(bytes), engine);
    m.caching_zeroed_seconds.emplace_back(double(bytes), zeroed);
    log(v, fmt::format("alloc {:>7.1f} MiB: cudaMalloc+cudaFree {:.1f} us, engine alloc (caching, no fill) {:.1f} us, "
                       "zero-filled {:.2f} us",
                       double(bytes) / 1048576, raw * 1e6, engine * 1e6, zeroed * 1e6));
  }

  m.gemm_size = o.gemm_size;
  for (DType dt : {DType::f16, DType::bf16, DType::f32}) {
    m.gemm_flops_per_second[dt] = measure_gemm_rate(dt, o.gemm_size, o.warmup, o.repeats);
    log(v, fmt::format("GEMM {0}^3 {1}: {2:.1f} TFLOP/s", o.gemm_size, dtype_name(dt), m.gemm_flops_per_second[dt] / 1e12));
  }
  m.device_copy_bytes_per_second = measure_device_copy_rate(o.device_copy_bytes, o.warmup, o.repeats);
  log(v, fmt::format("device copy: {} read + written", gbps(m.device_copy_bytes_per_second)));
  m.host_threads = cpu_pass_threads();  // the threads the host update really runs on
  m.host_update_elements_per_second = measure_host_update_rate(o.host_update_elements, o.warmup, o.repeats);
  log(v, fmt::format("host update: {:.3f} G elements/s ({} threads)", m.host_update_elements_per_second / 1e9,
                     m.host_threads));

  m.codec_block_bytes = o.codec_bytes;
  const CodecRates codec = measure_codec_rates(o.codec_bytes, o.warmup, o.repeats);
  m.codec_decode_bytes_per_second = codec.decode_bytes_per_second;
  m.codec_encode_bytes_per_second = codec.encode_bytes_per_second;
  log(v, fmt::format("wire codec (bf16, {:.0f} MiB): decode {}, encode {} of raw bytes", double(o.codec_bytes) / 1048576,
                     gbps(m.codec_decode_bytes_per_second), gbps(m.codec_encode_bytes_per_second)));

  for (const auto& [name, shape] : shapes) {
    const BlockTimes b = measure_block(shape, o.dtype, o.batch, o.seq, /*zo=*/true, o.warmup, o.repeats);
    CalibrationMeasurements::Block e;
    e.model = name;
    e.hidden = shape.hidden;
    e.ffn = shape.ffn;
    e.heads = shape.heads;
    e.family = shape.family;
    e.kv_heads = shape.key_value_heads();
    e.head_dim = shape.head_dim();
    e.dtype = o.dtype;
    e.batch = o.batch;
    e.seq = o.seq;
    e.slab_bytes = b.slab_bytes;
    e.params = b.params;
    e.forward_flops = shape.block_forward_flops(o.batch, o.seq);
    e.forward_seconds = b.forward_seconds;
    e.zo_update_seconds = b.zo_update_seconds;
    e.zo_perturb_seconds = b.zo_perturb_seconds;
    e.zo_fold_seconds = b.zo_fold_seconds;
    size_t free_bytes = 0, total_bytes = 0;
    CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
    const int64_t model_block_bytes = shape.layers * block_layout(shape, 0, o.dtype).bytes();
    const bool resident_fits = double(model_block_bytes) < 0.8 * double(free_bytes);  // activations need the rest
    if (o.resident_seconds > 0 && !resident_fits)
      log(v, fmt::format("{} resident block loop skipped: its blocks need {} and {} of GPU memory is free", name,
                         format_bytes(model_block_bytes), format_bytes(int64_t(free_bytes))));
    if (o.resident_seconds > 0 && resident_fits) {
      // A resident step's loop over the whole model's blocks, and over one slab (the record tells the two apart), in
      // the order resident blocks run by default (--fold-update on): the profile records it as "folded".
      e.resident_slabs = shape.layers;
      e.resident_seconds = o.resident_seconds;
      e.resident_loop = "folded";
      e.resident_block_seconds = measure_block_loop(shape, o.dtype, o.batch, o.seq, shape.layers, o.resident_seconds);
      e.one_slab_block_seconds = measure_block_loop(shape, o.dtype, o.batch, o.seq, 1, o.resident_seconds);
      c10::cuda::CUDACachingAllocator::emptyCache();  // the next model's slabs need not fit beside these cached ones
      log(v, fmt::format("{} resident block loop ({} slabs; zo+ perturb only, fwd+, zo-, fwd-, zo= folded): {:.3f} ms "
                         "per block; one slab {:.3f} ms; isolated ops sum {:.3f} ms",
                         name, shape.layers, e.resident_block_seconds * 1e3, e.one_slab_block_seconds * 1e3,
                         e.isolated_block_seconds() * 1e3));
    }
    m.blocks.push_back(e);
    log(v, fmt::format("{} block {}: forward {:.3f} ms ({:.1f} TFLOP/s), zo+ with pending update {:.3f} ms, "
                       "zo+/zo-/zo= perturb only {:.3f} ms, zo= folded {:.3f} ms",
                       name, dtype_name(o.dtype), e.forward_seconds * 1e3, e.forward_flops / e.forward_seconds / 1e12,
                       e.zo_update_seconds * 1e3, e.zo_perturb_seconds * 1e3, e.zo_fold_seconds * 1e3));
    const EmbedHeadTimes eh = measure_embed_head(shape, o.dtype, o.batch, o.seq, o.warmup, o.repeats);
    m.model_timings.push_back({name, o.dtype, o.batch, o.seq, eh.embed_seconds, eh.head_loss_seconds,
                               shape.head_forward_flops(o.batch, o.seq), shape.hidden, shape.vocab_size,
                               shape.word_embed_proj_dim, shape.family});
    log(v, fmt::format("{} embed {:.3f} ms, head + loss {:.3f} ms", name, eh.embed_seconds * 1e3,
                       eh.head_loss_seconds * 1e3));
  }

  // The roofline's inputs from the largest block shape measured (nearest to the shapes only the simulator runs).
  size_t big = 0;
  for (size_t i = 1; i < shapes.size(); ++i)
    if (shapes[i].second.block_params() > shapes[big].second.block_params()) big = i;
  const auto& [big_name, big_shape] = shapes[big];
  const auto& big_block = m.blocks[big];
  m.gpu_rng_samples_per_second = 2.0 * double(big_block.params) / big_block.zo_update_seconds;
  m.gpu_rng_how = fmt::format(
      "derived: the engine's fused ZO pass with the pending update on the {} block ({}) regenerates 2 normal samples "
      "per element: 2 x {} elements / {:.6g} s (a lower bound on the RNG rate: the pass also reads and writes the slab)",
      big_name, dtype_name(o.dtype), big_block.params, big_block.zo_update_seconds);
  for (DType dt : {DType::f16, DType::bf16, DType::f32}) {
    const double seconds = dt == o.dtype ? big_block.forward_seconds
                                         : measure_block(big_shape, dt, o.batch, o.seq, false, o.warmup, o.repeats).forward_seconds;
    m.efficiency_blocks[dt] = {big_name, big_block.forward_flops, seconds};
    log(v, fmt::format("{} block forward {}: {:.3f} ms ({:.1f} TFLOP/s)", big_name, dtype_name(dt), seconds * 1e3,
                       big_block.forward_flops / seconds / 1e12));
  }
  return m;
}


}  // namespace zo2
