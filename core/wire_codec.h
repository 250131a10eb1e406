// The lossless wire codec: one block (a flat slab of bf16 or fp16) as an entropy-coded exponent plane plus a raw
// byte plane, laid out so a GPU decodes it in parallel (CPU encoder and decoder here; the CUDA kernels in
// engine/wire_codec_cuda.h read and write the same bytes).
//
// Each 16-bit word w is split into a symbol byte, which carries the exponent, and a raw byte:
//   bf16: symbol = exponent (8 bits),                      raw = sign | mantissa (7 bits)
//   fp16: symbol = exponent (5) | sign | mantissa top 2,   raw = mantissa low 8 bits
// The raw plane is stored as is. The symbol plane is coded with a canonical Huffman code of at most
// kWireMaxCodeLen bits (decoding is one lookup in a 2^kWireMaxCodeLen-entry table) over the symbols of the block
// the table was built on, plus an escape code followed by the symbol's 8 bits, so any bit pattern round-trips
// (every exponent, NaN payloads, infinities, subnormals, -0).
//
// Elements are grouped in tiles of kWireTileElems; a tile is kWireChunks chunks, chunk c holding the tile's elements
// c, c + kWireChunks, c + 2 kWireChunks, ... (interleaved, so that GPU threads decoding one chunk each write
// neighbouring words). Each chunk's codes are one bit sequence; the chunks of a tile are concatenated, MSB first in
// 32-bit little-endian words, the tile padded to 16 bytes. Per tile: its byte offset in the stream (bit 0 set: the
// tile is stored, one symbol byte per element in element order, when coding would not make it smaller); per chunk:
// its length in bits. So a tile never takes more than its raw symbol bytes and wire_codec_max_bytes() bounds every
// encoding of n elements, whatever the data and the table.
//
// Blob layout (offsets from the start, all multiples of 16):
//   [0, 64)                 WireCodecHeader
//   [64, 9568)              the table: code lengths u8[257], encode table u32[257], decode table u16[4096]
//   tile offsets            u64[tiles + 1], the last one the stream's size
//   chunk bit lengths       u16[tiles * kWireChunks]
//   raw plane               u8[n]
//   stream                  the tiles, then 16 zero bytes (a decoder may read one word past a tile's end)
// Everything before the stream depends on n only (wire_codec_stream_offset(n)).
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>

#include "core/dtype.h"

// The word split below is shared with the CUDA kernels.
#ifdef __CUDACC__
#define ZO2_WIRE_HD __host__ __device__
#else
#define ZO2_WIRE_HD
#endif

namespace zo2 {

inline constexpr int kWireMaxCodeLen = 12;
inline constexpr int kWireSymbols = 257;  // 256 symbol bytes and the escape
inline constexpr int kWireEscape = 256;
inline constexpr int kWireChunks = 128;      // chunks per tile: the GPU's threads per tile
inline constexpr int kWireChunkElems = 256;  // elements per full chunk
inline constexpr int64_t kWireTileElems = int64_t(kWireChunks) * kWireChunkElems;
inline constexpr uint32_t kWireMagic = 0x3143575au;  // "ZWC1"
inline constexpr uint32_t kWireVersion = 1;

inline constexpr int64_t kWireHeaderBytes = 64;
inline constexpr int64_t kWireLengthsOffset = 64;
inline constexpr int64_t kWireEncodeTableOffset = 336;
inline constexpr int64_t kWireDecodeTableOffset = 1376;
inline constexpr int64_t kWireTableEnd = kWireDecodeTableOffset + 2 * (int64_t(1) << kWireMaxCodeLen);

struct WireCodecHeader {
  uint32_t magic;
  uint32_t version;
  uint32_t dtype;  // static_cast<uint32_t>(DType): f16 or bf16
  uint32_t max_code_len;
  uint64_t elements;
  uint64_t tiles;
  uint64_t encoded_bytes;  // the whole blob, stream tail included
  uint64_t stream_bytes;   // the tiles, without the 16-byte tail
  uint64_t reserved[2];
};
static_assert(sizeof(WireCodecHeader) == kWireHeaderBytes);

// The code, fixed per block from its first encoding and carried in every blob encoded with it.
struct WireCodecTable {
  DType dtype = DType::bf16;
  std::array<uint8_t, kWireSymbols> lengths{};  // 0: not in the table (escaped)
  // Per symbol byte: the bits to emit (escape code and the byte for escaped ones), value in bits 0..23 and the
  // count in bits 24..31.
  std::array<uint32_t, 256> encode{};
  std::array<uint16_t, size_t(1) << kWireMaxCodeLen> decode{};  // symbol | length << 9, indexed by the next bits
};

// The symbol and raw byte of a word, and back.
ZO2_WIRE_HD inline uint8_t wire_symbol(DType dt, uint16_t w) {
  return dt == DType::bf16 ? uint8_t(w >> 7) : uint8_t(((w >> 7) & 0xF8u) | ((w >> 13) & 4u) | ((w >> 8) & 3u));
}
ZO2_WIRE_HD inline uint8_t wire_raw(DType dt, uint16_t w) {
  return dt == DType::bf16 ? uint8_t(((w >> 8) & 0x80u) | (w & 0x7Fu)) : uint8_t(w);
}
ZO2_WIRE_HD inline uint16_t wire_word(DType dt, uint8_t symbol, uint8_t raw) {
  if (dt == DType::bf16) return uint16_t(((raw & 0x80u) << 8) | (uint32_t(symbol) << 7) | (raw & 0x7Fu));
  return uint16_t(((symbol & 0xF8u) << 7) | ((symbol & 4u) << 13) | ((symbol & 3u) << 8) | raw);
}

// A table for `data`'s symbol distribution. Throws std::invalid_argument unless dt is f16 or bf16.
WireCodecTable wire_codec_table(DType dt, const uint16_t* data, int64_t n);
// The table a blob was encoded with (validated as wire_codec_header does).
WireCodecTable wire_codec_table_of(const uint8_t* blob, int64_t bytes);

int64_t wire_codec_tiles(int64_t n);
// Where the parts sit in a blob of n elements (see the layout above).
int64_t wire_codec_offsets_offset();
int64_t wire_codec_chunk_bits_offset(int64_t n);
int64_t wire_codec_raw_offset(int64_t n);
int64_t wire_codec_stream_offset(int64_t n);  // bytes before the stream: header, table, offsets, raw plane
int64_t wire_codec_max_bytes(int64_t n);      // the largest blob any n elements encode to, with any table
int64_t wire_codec_encode_scratch_bytes(int64_t n);  // the GPU encoder's scratch for n elements (one size per tile)

// Encodes n words into `out` (capacity `capacity`, at least wire_codec_max_bytes(n)); returns the blob's size.
// threads: 0 = the hardware's. The bytes do not depend on the thread count.
int64_t wire_codec_encode(const WireCodecTable& table, const uint16_t* data, int64_t n, uint8_t* out,
                          int64_t capacity, int threads = 0);
// The header of a blob, checked (magic, version, dtype, sizes, the table's lengths form a complete prefix code, the
// tile offsets are ordered and inside the stream); throws std::invalid_argument saying what is wrong.
WireCodecHeader wire_codec_header(const uint8_t* blob, int64_t bytes);
// Decodes a blob of n words into `out`; throws std::invalid_argument if the blob is malformed or holds another n.
void wire_codec_decode(const uint8_t* blob, int64_t bytes, uint16_t* out, int64_t n, int threads = 0);

// Order-0 Shannon entropy of the symbol plane, bits per element: the bound the coded stream is measured against.
double wire_symbol_entropy(DType dt, const uint16_t* data, int64_t n);

}  // namespace zo2
