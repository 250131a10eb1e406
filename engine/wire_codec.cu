// The lossless wire codec's CUDA kernels: one thread block per tile, one thread per chunk (core/wire_codec.h).
// Decode stages the tile's coded words and the decode table in shared memory and walks each chunk with a 64-bit bit
// window; because a chunk holds every kWireChunks-th element of its tile, a warp's stores land on neighbouring words.
#include <cub/block/block_reduce.cuh>
#include <cub/block/block_scan.cuh>
#include <cuda_runtime.h>

#include <algorithm>
#include <stdexcept>
#include <string>

#include "core/wire_codec.h"
#include "engine/cuda_check.h"
#include "engine/wire_codec_cuda.h"

namespace zo2 {

namespace {

constexpr int kThreads = kWireChunks;
constexpr int kLutEntries = 1 << kWireMaxCodeLen;
// A coded tile is never larger than its stored form (kWireTileElems bytes), plus the words a decoder reads past it.
constexpr int kStageWords = int(kWireTileElems / 4) + 4;

struct Layout {
  int64_t n, tiles, offsets, chunk_bits, raw, stream;
};

Layout layout_of(int64_t n) {
  return {n, wire_codec_tiles(n), wire_codec_offsets_offset(), wire_codec_chunk_bits_offset(n),
          wire_codec_raw_offset(n), wire_codec_stream_offset(n)};
}

__device__ __forceinline__ int64_t tile_elems(const Layout& L, int64_t t) {
  const int64_t rest = L.n - t * kWireTileElems;
  return rest < kWireTileElems ? rest : kWireTileElems;
}

__device__ __forceinline__ int64_t round16(int64_t x) { return (x + 15) & ~int64_t(15); }

using Scan = cub::BlockScan<uint32_t, kThreads>;

int sm_count() {
  int device = 0, sms = 0;
  CUDA_CHECK(cudaGetDevice(&device));
  CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
  return sms;
}

template <bool kBf16>
__global__ void __launch_bounds__(kThreads) decode_kernel(const uint8_t* __restrict__ blob, Layout L,
                                                         uint16_t* __restrict__ out) {
  constexpr DType dt = kBf16 ? DType::bf16 : DType::f16;
  __shared__ __align__(16) uint16_t lut[kLutEntries];
  __shared__ __align__(16) uint32_t stage[kStageWords];
  __shared__ typename Scan::TempStorage scan_tmp;
  const int tid = threadIdx.x;
  {
    const uint4* src = reinterpret_cast<const uint4*>(blob + kWireDecodeTableOffset);
    uint4* dst = reinterpret_cast<uint4*>(lut);
    for (int i = tid; i < kLutEntries * 2 / 16; i += kThreads) dst[i] = src[i];
  }
  const uint64_t* offsets = reinterpret_cast<const uint64_t*>(blob + L.offsets);
  const uint16_t* chunk_bits = reinterpret_cast<const uint16_t*>(blob + L.chunk_bits);
  const uint8_t* raw = blob + L.raw;
  const uint8_t* stream = blob + L.stream;
  for (int64_t t = blockIdx.x; t < L.tiles; t += gridDim.x) {
    const int64_t base = t * kWireTileElems, m = tile_elems(L, t);
    const uint64_t v = offsets[t];
    const int64_t off = int64_t(v & ~uint64_t(1));
    if (v & 1) {  // stored tile: symbol bytes in element order
      for (int64_t e = tid; e < m; e += kThreads) out[base + e] = wire_word(dt, stream[off + e], raw[base + e]);
      continue;
    }
    const int64_t size = int64_t(offsets[t + 1] & ~uint64_t(1)) - off;
    uint32_t start;
    Scan(scan_tmp).ExclusiveSum(uint32_t(chunk_bits[t * kThreads + tid]), start);
    {
      const uint4* src = reinterpret_cast<const uint4*>(stream + off);
      uint4* dst = reinterpret_cast<uint4*>(stage);
      const int vecs = int(size / 16) + 1;  // +1: the 16 bytes after the tile (next tile or the stream's tail)
      for (int i = tid; i < vecs; i += kThreads) dst[i] = src[i];
    }
    __syncthreads();
    uint32_t wi = start >> 5, bit = start & 31;
    uint64_t win = (uint64_t(stage[wi]) << 32) | stage[wi + 1];
    for (int64_t e = tid; e < m; e += kThreads) {
      const uint32_t entry = lut[uint32_t((win << bit) >> (64 - kWireMaxCodeLen))];
      uint32_t sym = entry & 0x1FFu;
      bit += entry >> 9;
      if (sym == kWireEscape) {
        sym = uint32_t((win << bit) >> 56);
        bit += 8;
      }
      if (bit >= 32) {
        bit -= 32;
        ++wi;
        win = (win << 32) | stage[wi + 1];
      }
      out[base + e] = wire_word(dt, uint8_t(sym), raw[base + e]);
    }
    __syncthreads();  // the stage is refilled for the next tile
  }
}

// Pass 1: each chunk's bits, the tile's size and whether it is stored; the raw plane.
template <bool kBf16>
__global__ void __launch_bounds__(kThreads) count_kernel(const uint8_t* __restrict__ table_blob,
                                                        const uint16_t* __restrict__ src, Layout L,
                                                        uint8_t* __restrict__ out, int64_t* __restrict__ tile_size) {
  constexpr DType dt = kBf16 ? DType::bf16 : DType::f16;
  __shared__ uint32_t enc[256];
  __shared__ typename cub::BlockReduce<uint32_t, kThreads>::TempStorage reduce_tmp;
  const int tid = threadIdx.x;
  for (int i = tid; i < 256; i += kThreads)
    enc[i] = reinterpret_cast<const uint32_t*>(table_blob + kWireEncodeTableOffset)[i];
  __syncthreads();
  uint16_t* chunk_bits = reinterpret_cast<uint16_t*>(out + L.chunk_bits);
  uint8_t* raw = out + L.raw;
  for (int64_t t = blockIdx.x; t < L.tiles; t += gridDim.x) {
    const int64_t base = t * kWireTileElems, m = tile_elems(L, t);
    uint32_t bits = 0;
    for (int64_t e = tid; e < m; e += kThreads) {
      const uint16_t w = src[base + e];
      bits += enc[wire_symbol(dt, w)] >> 24;
      raw[base + e] = wire_raw(dt, w);
    }
    const uint32_t total = cub::BlockReduce<uint32_t, kThreads>(reduce_tmp).Sum(bits);
    __shared__ int stored;
    if (tid == 0) {
      const int64_t coded = round16(int64_t((total + 31) / 32) * 4), plain = round16(m);
      stored = coded > plain;
      tile_size[t] = stored ? (plain | 1) : coded;
    }
    __syncthreads();
    chunk_bits[t * kThreads + tid] = stored ? 0 : uint16_t(bits);
    __syncthreads();  // `stored` and the reduction's storage are reused by the next tile
  }
}

// Pass 2 (one block): tile offsets by an exclusive scan of the sizes, the header, the stream's zero tail.
__global__ void __launch_bounds__(1024) offsets_kernel(const int64_t* __restrict__ tile_size, Layout L, uint32_t dtype,
                                                      uint8_t* __restrict__ out) {
  using BigScan = cub::BlockScan<uint64_t, 1024>;
  __shared__ typename BigScan::TempStorage tmp;
  __shared__ uint64_t carry;
  if (threadIdx.x == 0) carry = 0;
  __syncthreads();
  uint64_t* offsets = reinterpret_cast<uint64_t*>(out + L.offsets);
  for (int64_t first = 0; first < L.tiles; first += 1024) {
    const int64_t t = first + threadIdx.x;
    const uint64_t s = t < L.tiles ? uint64_t(tile_size[t]) : 0;
    uint64_t before, sum;
    BigScan(tmp).ExclusiveSum(s & ~uint64_t(1), before, sum);
    if (t < L.tiles) offsets[t] = (carry + before) | (s & 1);
    __syncthreads();
    if (threadIdx.x == 0) carry += sum;
    __syncthreads();
  }
  if (threadIdx.x == 0) {
    offsets[L.tiles] = carry;
    WireCodecHeader h{};
    h.magic = kWireMagic;
    h.version = kWireVersion;
    h.dtype = dtype;
    h.max_code_len = kWireMaxCodeLen;
    h.elements = uint64_t(L.n);
    h.tiles = uint64_t(L.tiles);
    h.stream_bytes = carry;
    h.encoded_bytes = uint64_t(L.stream) + carry + 16;
    *reinterpret_cast<WireCodecHeader*>(out) = h;
  }
  if (threadIdx.x < 16) out[L.stream + int64_t(carry) + threadIdx.x] = 0;
}

// Pass 3: the tiles. Chunks are packed into a zeroed shared copy of the tile with atomicOr (neighbouring chunks
// share their boundary words), then copied out whole, padding included.
template <bool kBf16>
__global__ void __launch_bounds__(kThreads) write_kernel(const uint8_t* __restrict__ table_blob,
                                                        const uint16_t* __restrict__ src, Layout L,
                                                        uint8_t* __restrict__ out) {
  constexpr DType dt = kBf16 ? DType::bf16 : DType::f16;
  __shared__ uint32_t enc[256];
  __shared__ __align__(16) uint32_t stage[kStageWords];
  __shared__ typename Scan::TempStorage scan_tmp;
  const int tid = threadIdx.x;
  for (int i = tid; i < 256; i += kThreads)
    enc[i] = reinterpret_cast<const uint32_t*>(table_blob + kWireEncodeTableOffset)[i];
  __syncthreads();
  const uint64_t* offsets = reinterpret_cast<const uint64_t*>(out + L.offsets);
  const uint16_t* chunk_bits = reinterpret_cast<const uint16_t*>(out + L.chunk_bits);
  uint8_t* stream = out + L.stream;
  for (int64_t t = blockIdx.x; t < L.tiles; t += gridDim.x) {
    const int64_t base = t * kWireTileElems, m = tile_elems(L, t);
    const uint64_t v = offsets[t];
    const int64_t off = int64_t(v & ~uint64_t(1)), size = int64_t(offsets[t + 1] & ~uint64_t(1)) - off;
    if (v & 1) {
      for (int64_t e = tid; e < size; e += kThreads) stream[off + e] = e < m ? wire_symbol(dt, src[base + e]) : 0;
      continue;
    }
    for (int i = tid; i < size / 4 + 1; i += kThreads) stage[i] = 0;
    uint32_t start;
    Scan(scan_tmp).ExclusiveSum(uint32_t(chunk_bits[t * kThreads + tid]), start);
    __syncthreads();
    uint32_t pos = start;
    for (int64_t e = tid; e < m; e += kThreads) {
      const uint32_t code = enc[wire_symbol(dt, src[base + e])];
      const uint32_t nbits = code >> 24, used = pos & 31;
      const uint64_t shifted = uint64_t(code & 0xFFFFFFu) << (64 - used - nbits);
      atomicOr(&stage[pos >> 5], uint32_t(shifted >> 32));
      if (used + nbits > 32) atomicOr(&stage[(pos >> 5) + 1], uint32_t(shifted));
      pos += nbits;
    }
    __syncthreads();
    const uint4* from = reinterpret_cast<const uint4*>(stage);
    uint4* to = reinterpret_cast<uint4*>(stream + off);
    for (int i = tid; i < size / 16; i += kThreads) to[i] = from[i];
    __syncthreads();
  }
}

void check_aligned(const void* p, const char* what) {
  if (reinterpret_cast<uintptr_t>(p) % 16)
    throw std::invalid_argument(std::string("wire codec (CUDA): ") + what + " is not 16-byte aligned");
}

int grid_for(int64_t tiles, int blocks_per_sm) {
  return int(std::max<int64_t>(1, std::min<int64_t>(tiles, int64_t(sm_count()) * blocks_per_sm)));
}

}  // namespace

void wire_codec_decode_cuda(const void* blob, DType dtype, int64_t n, uint16_t* out, void* stream) {
  if (dtype != DType::f16 && dtype != DType::bf16)
    throw std::invalid_argument("wire codec (CUDA): dtype must be fp16 or bf16");
  if (n < 0) throw std::invalid_argument("wire codec (CUDA): negative element count");
  check_aligned(blob, "the blob");
  const Layout L = layout_of(n);
  if (L.tiles == 0) return;
  const auto* b = static_cast<const uint8_t*>(blob);
  const int grid = grid_for(L.tiles, 8);
  if (dtype == DType::bf16)
    decode_kernel<true><<<grid, kThreads, 0, cudaStream_t(stream)>>>(b, L, out);
  else
    decode_kernel<false><<<grid, kThreads, 0, cudaStream_t(stream)>>>(b, L, out);
  CUDA_CHECK(cudaGetLastError());
}

int64_t wire_codec_cuda_scratch_bytes(int64_t n) { return wire_codec_encode_scratch_bytes(n); }

void wire_codec_encode_cuda(const void* table_blob, DType dtype, const uint16_t* src, int64_t n, void* out,
                            void* scratch, void* stream) {
  if (dtype != DType::f16 && dtype != DType::bf16)
    throw std::invalid_argument("wire codec (CUDA): dtype must be fp16 or bf16");
  if (n < 0) throw std::invalid_argument("wire codec (CUDA): negative element count");
  check_aligned(out, "the output blob");
  check_aligned(table_blob, "the table blob");
  const cudaStream_t s = cudaStream_t(stream);
  const Layout L = layout_of(n);
  auto* o = static_cast<uint8_t*>(out);
  const auto* tb = static_cast<const uint8_t*>(table_blob);
  if (o != tb)
    CUDA_CHECK(cudaMemcpyAsync(o + kWireHeaderBytes, tb + kWireHeaderBytes, size_t(kWireTableEnd - kWireHeaderBytes),
                               cudaMemcpyDeviceToDevice, s));
  // the paddings between the parts the kernels write
  const int64_t offsets_end = L.offsets + 8 * (L.tiles + 1), chunk_end = L.chunk_bits + 2 * L.tiles * kThreads;
  CUDA_CHECK(cudaMemsetAsync(o + offsets_end, 0, size_t(L.chunk_bits - offsets_end), s));
  CUDA_CHECK(cudaMemsetAsync(o + chunk_end, 0, size_t(L.raw - chunk_end), s));
  CUDA_CHECK(cudaMemsetAsync(o + L.raw + n, 0, size_t(L.stream - L.raw - n), s));
  auto* sizes = static_cast<int64_t*>(scratch);
  const int grid = grid_for(L.tiles, 8);
  const bool bf16 = dtype == DType::bf16;
  if (L.tiles > 0) {
    if (bf16)
      count_kernel<true><<<grid, kThreads, 0, s>>>(o, src, L, o, sizes);
    else
      count_kernel<false><<<grid, kThreads, 0, s>>>(o, src, L, o, sizes);
    CUDA_CHECK(cudaGetLastError());
  }
  offsets_kernel<<<1, 1024, 0, s>>>(sizes, L, uint32_t(dtype), o);
  CUDA_CHECK(cudaGetLastError());
  if (L.tiles > 0) {
    if (bf16)
      write_kernel<true><<<grid, kThreads, 0, s>>>(o, src, L, o);
    else
      write_kernel<false><<<grid, kThreads, 0, s>>>(o, src, L, o);
    CUDA_CHECK(cudaGetLastError());
  }
}

}  // namespace zo2
