// The wire codec's CUDA kernels against the CPU codec: GPU decode == CPU decode == original and GPU encode == CPU
// encode, byte for byte, on normal data, escapes, specials, stored tiles and odd sizes. Skips without a GPU.
#include <catch2/catch_test_macros.hpp>

#include <cstring>
#include <random>
#include <vector>

#include "core/wire_codec.h"
#include "engine/io/half_convert.h"
#include "engine/wire_codec_cuda.h"

#ifdef ZO2_HAVE_CUDA
#include <cuda_runtime.h>

#include "engine/cuda_check.h"
#endif

using namespace zo2;

#ifdef ZO2_HAVE_CUDA
namespace {

bool have_gpu() {
  int count = 0;
  return cudaGetDeviceCount(&count) == cudaSuccess && count > 0;
}

struct DeviceBuffer {
  void* p = nullptr;
  explicit DeviceBuffer(size_t bytes) { CUDA_CHECK(cudaMalloc(&p, bytes < 16 ? 16 : bytes)); }
  ~DeviceBuffer() { cudaFree(p); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
};

// One case: the table built on `table_data`, `data` coded with it on the CPU and the GPU, decoded by both.
void check_case(DType dt, const std::vector<uint16_t>& table_data, const std::vector<uint16_t>& data) {
  const int64_t n = int64_t(data.size());
  INFO(dtype_name(dt) << ", n " << n);
  const WireCodecTable table = wire_codec_table(dt, table_data.data(), int64_t(table_data.size()));
  const int64_t cap = wire_codec_max_bytes(n);
  std::vector<uint8_t> cpu_blob(static_cast<size_t>(cap), 0xAB);
  const int64_t bytes = wire_codec_encode(table, data.data(), n, cpu_blob.data(), cap);

  DeviceBuffer d_data(2 * static_cast<size_t>(n)), d_out(2 * static_cast<size_t>(n)), d_blob(static_cast<size_t>(cap)), d_blob2(static_cast<size_t>(cap)),
      d_scratch(size_t(wire_codec_cuda_scratch_bytes(n)));
  CUDA_CHECK(cudaMemcpy(d_data.p, data.data(), 2 * static_cast<size_t>(n), cudaMemcpyHostToDevice));
  CUDA_CHECK(cudaMemcpy(d_blob.p, cpu_blob.data(), static_cast<size_t>(bytes), cudaMemcpyHostToDevice));
  CUDA_CHECK(cudaMemset(d_out.p, 0xCD, 2 * static_cast<size_t>(n)));
  // GPU decode of the CPU's blob
  wire_codec_decode_cuda(d_blob.p, dt, n, static_cast<uint16_t*>(d_out.p), nullptr);
  CUDA_CHECK(cudaDeviceSynchronize());
  std::vector<uint16_t> gpu_decoded(static_cast<size_t>(n));
  CUDA_CHECK(cudaMemcpy(gpu_decoded.data(), d_out.p, 2 * static_cast<size_t>(n), cudaMemcpyDeviceToHost));
  std::vector<uint16_t> cpu_decoded(static_cast<size_t>(n));
  wire_codec_decode(cpu_blob.data(), bytes, cpu_decoded.data(), n);
  REQUIRE(cpu_decoded == data);
  REQUIRE(gpu_decoded == data);
  // GPU encode with the table of the CPU's blob, into a buffer full of garbage: every byte must match the CPU's
  CUDA_CHECK(cudaMemset(d_blob2.p, 0x5A, static_cast<size_t>(cap)));
  wire_codec_encode_cuda(d_blob.p, dt, static_cast<const uint16_t*>(d_data.p), n, d_blob2.p, d_scratch.p, nullptr);
  CUDA_CHECK(cudaDeviceSynchronize());
  std::vector<uint8_t> gpu_blob(static_cast<size_t>(bytes));
  CUDA_CHECK(cudaMemcpy(gpu_blob.data(), d_blob2.p, static_cast<size_t>(bytes), cudaMemcpyDeviceToHost));
  WireCodecHeader h;
  std::memcpy(&h, gpu_blob.data(), sizeof h);
  REQUIRE(h.encoded_bytes == uint64_t(bytes));
  REQUIRE(std::memcmp(gpu_blob.data(), cpu_blob.data(), static_cast<size_t>(bytes)) == 0);
  // and in place over its own table's blob
  wire_codec_encode_cuda(d_blob2.p, dt, static_cast<const uint16_t*>(d_data.p), n, d_blob2.p, d_scratch.p, nullptr);
  CUDA_CHECK(cudaDeviceSynchronize());
  CUDA_CHECK(cudaMemcpy(gpu_blob.data(), d_blob2.p, static_cast<size_t>(bytes), cudaMemcpyDeviceToHost));
  REQUIRE(std::memcmp(gpu_blob.data(), cpu_blob.data(), static_cast<size_t>(bytes)) == 0);
}

std::vector<uint16_t> normal_words(DType dt, int64_t n, float sigma, std::mt19937_64& rng) {
  std::normal_distribution<float> d(0.0f, sigma);
  std::vector<uint16_t> v(static_cast<size_t>(n));
  for (auto& w : v) w = dt == DType::bf16 ? io::float_to_bf16_bits(d(rng)) : io::float_to_half_bits(d(rng));
  return v;
}

}  // namespace

TEST_CASE("GPU wire codec: decode and encode agree with the CPU codec byte for byte", "[wire_codec][cuda]") {
  if (!have_gpu()) SKIP("no GPU on this machine");
  std::random_device rd;
  const uint64_t seed = (uint64_t(rd()) << 32) | rd();
  INFO("seed " << seed);
  std::mt19937_64 rng(seed);
  for (DType dt : {DType::bf16, DType::f16}) {
    const auto base = normal_words(dt, 4 * kWireTileElems, 0.02f, rng);
    for (int64_t n : {int64_t(0), int64_t(1), int64_t(kWireChunks + 1), kWireTileElems - 1, kWireTileElems,
                      kWireTileElems + 1, 3 * kWireTileElems + 12345})
      check_case(dt, base, normal_words(dt, n, 0.02f, rng));
    // escapes: a table from sigma 0.02 on sigma 30 data, and on uniformly random words (stored tiles)
    check_case(dt, base, normal_words(dt, 2 * kWireTileElems + 7, 30.0f, rng));
    std::vector<uint16_t> random(2 * kWireTileElems + 9);
    for (auto& w : random) w = uint16_t(rng());
    check_case(dt, base, random);
    check_case(dt, random, random);
    // every word, NaN, Inf, subnormals and signed zeros among them
    std::vector<uint16_t> all(65536);
    for (uint32_t w = 0; w < 65536; ++w) all[w] = uint16_t(w);
    check_case(dt, all, all);
    check_case(dt, base, all);
    // a large block, so many tiles run on the grid at once
    check_case(dt, base, normal_words(dt, 64 * kWireTileElems + 3, 0.02f, rng));
  }
}
#else
TEST_CASE("GPU wire codec: decode and encode agree with the CPU codec byte for byte", "[wire_codec][cuda]") {
  SKIP("built without CUDA");
}
#endif
