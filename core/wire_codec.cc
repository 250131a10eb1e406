// The lossless wire codec on the CPU: table construction (length-limited canonical Huffman), encoder and decoder.
#include "core/wire_codec.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <queue>
#include <stdexcept>
#include <thread>
#include <vector>

namespace zo2 {

namespace {

constexpr int64_t round16(int64_t x) { return (x + 15) & ~int64_t(15); }

int64_t offsets_offset() { return kWireTableEnd; }
int64_t chunk_bits_offset(int64_t n) { return offsets_offset() + round16(8 * (wire_codec_tiles(n) + 1)); }
int64_t raw_offset(int64_t n) { return chunk_bits_offset(n) + round16(2 * wire_codec_tiles(n) * kWireChunks); }
int64_t tile_elems(int64_t n, int64_t t) { return std::min(kWireTileElems, n - t * kWireTileElems); }
int64_t stored_tile_bytes(int64_t n, int64_t t) { return round16(tile_elems(n, t)); }

void check_dtype(DType dt) {
  if (dt != DType::f16 && dt != DType::bf16)
    throw std::invalid_argument(fmt::format("wire codec: dtype {} is not a 16-bit float (expected fp16 or bf16)",
                                            dtype_name(dt)));
}

// Huffman code lengths for `counts` (symbols with count 0 get none). Codes longer than the limit are avoided by
// flattening the counts (halving, keeping each present symbol at least 1) until the tree fits: near optimal for the
// skewed exponent distributions this codes, exact when no halving is needed.
std::array<uint8_t, kWireSymbols> huffman_lengths(std::array<uint64_t, kWireSymbols> counts) {
  for (;;) {
    std::array<uint8_t, kWireSymbols> lengths{};
    struct Node {
      uint64_t weight;
      int index;
    };
    auto heavier = [](const Node& a, const Node& b) {
      return a.weight != b.weight ? a.weight > b.weight : a.index > b.index;
    };
    std::priority_queue<Node, std::vector<Node>, decltype(heavier)> heap(heavier);
    std::vector<int> parent(2 * kWireSymbols, -1);
    int next = kWireSymbols;
    for (int s = 0; s < kWireSymbols; ++s)
      if (counts[s] > 0) heap.push({counts[s], s});
    while (heap.size() > 1) {
      Node a = heap.top();
      heap.pop();
      Node b = heap.top();
      heap.pop();
      parent[a.index] = parent[b.index] = next;
      heap.push({a.weight + b.weight, next++});
    }
    int longest = 0;
    for (int s = 0; s < kWireSymbols; ++s) {
      if (counts[s] == 0) continue;
      int depth = 0;
      for (int v = s; parent[v] >= 0; v = parent[v]) ++depth;
      lengths[s] = uint8_t(depth);
      longest = std::max(longest, depth);
    }
    if (longest <= kWireMaxCodeLen) return lengths;
    for (auto& c : counts)
      if (c > 0) c = std::max<uint64_t>(1, c / 2);
  }
}

// Canonical codes from lengths: shorter codes first, ties by symbol.
std::array<uint32_t, kWireSymbols> canonical_codes(const std::array<uint8_t, kWireSymbols>& lengths) {
  std::array<int, kWireMaxCodeLen + 2> per_length{};
  for (uint8_t l : lengths) per_length[l]++;
  per_length[0] = 0;
  std::array<uint32_t, kWireMaxCodeLen + 2> next{};
  uint32_t code = 0;
  for (int l = 1; l <= kWireMaxCodeLen; ++l) {
    code = (code + per_length[l - 1]) << 1;
    next[l] = code;
  }
  std::array<uint32_t, kWireSymbols> codes{};
  for (int s = 0; s < kWireSymbols; ++s)
    if (lengths[s]) codes[s] = next[lengths[s]]++;
  return codes;
}

// Checks that the lengths form a complete prefix code (Kraft sum exactly 1, the escape present) and fills the
// encode and decode tables from them.
void fill_tables(WireCodecTable& t) {
  uint64_t kraft = 0;
  for (int s = 0; s < kWireSymbols; ++s) {
    if (t.lengths[s] > kWireMaxCodeLen)
      throw std::invalid_argument(fmt::format("wire codec table: symbol {} has a {}-bit code (at most {})", s,
                                              t.lengths[s], kWireMaxCodeLen));
    if (t.lengths[s]) kraft += uint64_t(1) << (kWireMaxCodeLen - t.lengths[s]);
  }
  if (kraft != (uint64_t(1) << kWireMaxCodeLen) || t.lengths[kWireEscape] == 0)
    throw std::invalid_argument("wire codec table: the code lengths do not form a complete prefix code with an escape");
  const auto codes = canonical_codes(t.lengths);
  const uint32_t esc_len = t.lengths[kWireEscape];
  for (int s = 0; s < 256; ++s) {
    if (t.lengths[s])
      t.encode[s] = codes[s] | (uint32_t(t.lengths[s]) << 24);
    else
      t.encode[s] = ((codes[kWireEscape] << 8) | uint32_t(s)) | ((esc_len + 8) << 24);
  }
  for (int s = 0; s < kWireSymbols; ++s) {
    const int l = t.lengths[s];
    if (!l) continue;
    const uint32_t first = codes[s] << (kWireMaxCodeLen - l), count = uint32_t(1) << (kWireMaxCodeLen - l);
    for (uint32_t i = 0; i < count; ++i) t.decode[first + i] = uint16_t(s | (l << 9));
  }
}

// Runs fn(t) for t in [0, tiles) on up to `threads` threads (0: the hardware's).
template <class Fn>
void for_tiles(int64_t tiles, int threads, Fn&& fn) {
  int nt = threads > 0 ? threads : int(std::max(1u, std::thread::hardware_concurrency()));
  nt = int(std::min<int64_t>(nt, tiles));
  if (nt <= 1) {
    for (int64_t t = 0; t < tiles; ++t) fn(t);
    return;
  }
  std::vector<std::thread> pool;
  std::vector<std::exception_ptr> errors(nt);
  for (int w = 0; w < nt; ++w)
    pool.emplace_back([&, w] {
      try {
        for (int64_t t = w; t < tiles; t += nt) fn(t);
      } catch (...) {
        errors[w] = std::current_exception();
      }
    });
  for (auto& th : pool) th.join();
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
}

// Bit writer over a tile's words, MSB first.
struct BitWriter {
  uint32_t* words;
  uint64_t pos = 0;
  void put(uint32_t value, uint32_t nbits) {
    // nbits <= 24: spans at most two words.
    const uint64_t w = pos >> 5;
    const uint32_t used = uint32_t(pos & 31);
    const uint64_t shifted = uint64_t(value) << (64 - used - nbits);
    words[w] |= uint32_t(shifted >> 32);
    if (used + nbits > 32) words[w + 1] |= uint32_t(shifted);
    pos += nbits;
  }
};

// The next kWireMaxCodeLen (or fewer) bits at `pos`.
inline uint32_t peek(const uint32_t* words, uint64_t pos, int nbits) {
  const uint64_t w = pos >> 5;
  const uint64_t window = (uint64_t(words[w]) << 32) | words[w + 1];
  return uint32_t((window << (pos & 31)) >> (64 - nbits));
}

template <class T>
void put_le(uint8_t* p, T v) {
  std::memcpy(p, &v, sizeof v);
}
template <class T>
T get_le(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

}  // namespace

int64_t wire_codec_tiles(int64_t n) { return (n + kWireTileElems - 1) / kWireTileElems; }
int64_t wire_codec_offsets_offset() { return offsets_offset(); }
int64_t wire_codec_chunk_bits_offset(int64_t n) { return chunk_bits_offset(n); }
int64_t wire_codec_raw_offset(int64_t n) { return raw_offset(n); }
int64_t wire_codec_stream_offset(int64_t n) { return raw_offset(n) + round16(n); }
int64_t wire_codec_max_bytes(int64_t n) {
  int64_t stream = 0;
  for (int64_t t = 0; t < wire_codec_tiles(n); ++t) stream += stored_tile_bytes(n, t);
  return wire_codec_stream_offset(n) + stream + 16;
}

int64_t wire_codec_encode_scratch_bytes(int64_t n) { return 8 * wire_codec_tiles(n) + 16; }

WireCodecTable wire_codec_table(DType dt, const uint16_t* data, int64_t n) {
  check_dtype(dt);
  std::array<uint64_t, kWireSymbols> counts{};
  for (int64_t i = 0; i < n; ++i) counts[wire_symbol(dt, data[i])]++;
  counts[kWireEscape] = 1;  // escapes are rare by construction: the data the table is built on needs none
  int present = 0;
  for (int s = 0; s < 256; ++s) present += counts[s] > 0;
  if (present == 0) counts[0] = 1;  // a prefix code needs two symbols
  WireCodecTable t;
  t.dtype = dt;
  t.lengths = huffman_lengths(counts);
  fill_tables(t);
  return t;
}

int64_t wire_codec_encode(const WireCodecTable& table, const uint16_t* data, int64_t n, uint8_t* out,
                          int64_t capacity, int threads) {
  check_dtype(table.dtype);
  if (n < 0) throw std::invalid_argument("wire codec: negative element count");
  if (capacity < wire_codec_max_bytes(n))
    throw std::invalid_argument(fmt::format("wire codec: output buffer of {} bytes, {} elements need up to {}",
                                            capacity, n, wire_codec_max_bytes(n)));
  const int64_t tiles = wire_codec_tiles(n);
  const DType dt = table.dtype;
  // Pass 1: every chunk's length in bits, so every tile's offset is known before any is written.
  uint8_t* chunk_bits_p = out + chunk_bits_offset(n);
  std::vector<int64_t> tile_bytes(tiles);
  std::vector<uint8_t> stored(tiles);
  for_tiles(tiles, threads, [&](int64_t t) {
    const int64_t base = t * kWireTileElems, m = tile_elems(n, t);
    uint64_t total = 0;
    uint16_t lens[kWireChunks];
    for (int c = 0; c < kWireChunks; ++c) {
      uint32_t bits = 0;
      for (int64_t e = c; e < m; e += kWireChunks) bits += table.encode[wire_symbol(dt, data[base + e])] >> 24;
      lens[c] = uint16_t(bits);
      total += bits;
    }
    const int64_t coded = round16(int64_t((total + 31) / 32) * 4);
    stored[t] = coded > stored_tile_bytes(n, t);
    tile_bytes[t] = stored[t] ? stored_tile_bytes(n, t) : coded;
    for (int c = 0; c < kWireChunks; ++c)
      put_le<uint16_t>(chunk_bits_p + 2 * (t * kWireChunks + c), stored[t] ? 0 : lens[c]);
  });
  std::vector<int64_t> tile_offset(tiles + 1, 0);
  for (int64_t t = 0; t < tiles; ++t) tile_offset[t + 1] = tile_offset[t] + tile_bytes[t];
  const int64_t stream_off = wire_codec_stream_offset(n);
  const int64_t total = stream_off + tile_offset[tiles] + 16;

  // Header, table, offsets, paddings.
  std::memset(out, 0, size_t(kWireTableEnd));
  WireCodecHeader h{};
  h.magic = kWireMagic;
  h.version = kWireVersion;
  h.dtype = uint32_t(dt);
  h.max_code_len = kWireMaxCodeLen;
  h.elements = uint64_t(n);
  h.tiles = uint64_t(tiles);
  h.encoded_bytes = uint64_t(total);
  h.stream_bytes = uint64_t(tile_offset[tiles]);
  std::memcpy(out, &h, sizeof h);
  std::memcpy(out + kWireLengthsOffset, table.lengths.data(), kWireSymbols);
  for (int s = 0; s < 256; ++s) put_le<uint32_t>(out + kWireEncodeTableOffset + 4 * s, table.encode[s]);
  for (size_t i = 0; i < table.decode.size(); ++i) put_le<uint16_t>(out + kWireDecodeTableOffset + 2 * i, table.decode[i]);
  std::memset(out + offsets_offset(), 0, size_t(chunk_bits_offset(n) - offsets_offset()));
  for (int64_t t = 0; t <= tiles; ++t)
    put_le<uint64_t>(out + offsets_offset() + 8 * t, uint64_t(tile_offset[t]) | (t < tiles && stored[t] ? 1u : 0u));
  std::memset(out + chunk_bits_offset(n) + 2 * tiles * kWireChunks, 0,
              size_t(raw_offset(n) - chunk_bits_offset(n) - 2 * tiles * kWireChunks));
  std::memset(out + raw_offset(n) + n, 0, size_t(stream_off - raw_offset(n) - n));
  std::memset(out + total - 16, 0, 16);

  // Pass 2: raw plane and tiles.
  uint8_t* raw = out + raw_offset(n);
  uint8_t* stream = out + stream_off;
  for_tiles(tiles, threads, [&](int64_t t) {
    const int64_t base = t * kWireTileElems, m = tile_elems(n, t);
    for (int64_t e = 0; e < m; ++e) raw[base + e] = wire_raw(dt, data[base + e]);
    uint8_t* dst = stream + tile_offset[t];
    std::memset(dst, 0, size_t(tile_bytes[t]));
    if (stored[t]) {
      for (int64_t e = 0; e < m; ++e) dst[e] = wire_symbol(dt, data[base + e]);
      return;
    }
    // Words are assembled in native order, which is little-endian on every target the engine runs on.
    std::vector<uint32_t> words(size_t(tile_bytes[t] / 4) + 1, 0);
    BitWriter bw{words.data()};
    for (int c = 0; c < kWireChunks; ++c)
      for (int64_t e = c; e < m; e += kWireChunks) {
        const uint32_t code = table.encode[wire_symbol(dt, data[base + e])];
        bw.put(code & 0xFFFFFFu, code >> 24);
      }
    std::memcpy(dst, words.data(), size_t(tile_bytes[t]));
  });
  return total;
}

WireCodecHeader wire_codec_header(const uint8_t* blob, int64_t bytes) {
  if (bytes < kWireTableEnd)
    throw std::invalid_argument(fmt::format("wire codec blob: {} bytes, shorter than its header and table", bytes));
  WireCodecHeader h;
  std::memcpy(&h, blob, sizeof h);
  if (h.magic != kWireMagic) throw std::invalid_argument("wire codec blob: bad magic (not a wire codec blob)");
  if (h.version != kWireVersion)
    throw std::invalid_argument(fmt::format("wire codec blob: version {} (expected {})", h.version, kWireVersion));
  if (h.dtype != uint32_t(DType::f16) && h.dtype != uint32_t(DType::bf16))
    throw std::invalid_argument(fmt::format("wire codec blob: dtype code {} (expected fp16 or bf16)", h.dtype));
  if (h.max_code_len != kWireMaxCodeLen)
    throw std::invalid_argument(fmt::format("wire codec blob: {}-bit codes (expected {})", h.max_code_len,
                                            kWireMaxCodeLen));
  if (h.elements > uint64_t(bytes))
    throw std::invalid_argument(fmt::format("wire codec blob: {} elements in {} bytes", h.elements, bytes));
  const int64_t n = int64_t(h.elements);
  if ( int64_t(h.tiles) != wire_codec_tiles(n) || int64_t(h.encoded_bytes) > bytes ||
      int64_t(h.encoded_bytes) != wire_codec_stream_offset(n) + int64_t(h.stream_bytes) + 16)
    throw std::invalid_argument(fmt::format("wire codec blob: sizes do not agree ({} elements, {} tiles, {} bytes "
                                            "encoded, {} given)", h.elements, h.tiles, h.encoded_bytes, bytes));
  for (int64_t t = 0; t <= int64_t(h.tiles); ++t) {
    const uint64_t v = get_le<uint64_t>(blob + offsets_offset() + 8 * t);
    const int64_t off = int64_t(v & ~uint64_t(1));
    const bool last = t == int64_t(h.tiles);
    bool ok = (off & 15) == 0 && (t != 0 || off == 0) && (!last || (off == int64_t(h.stream_bytes) && !(v & 1)));
    if (ok && !last) {
      const int64_t next = int64_t(get_le<uint64_t>(blob + offsets_offset() + 8 * (t + 1)) & ~uint64_t(1));
      const int64_t size = next - off;
      if (v & 1) {
        ok = size == stored_tile_bytes(n, t);
      } else {
        uint64_t bits = 0;
        for (int c = 0; c < kWireChunks; ++c)
          bits += get_le<uint16_t>(blob + chunk_bits_offset(n) + 2 * (t * kWireChunks + c));
        ok = size >= 0 && size <= stored_tile_bytes(n, t) && int64_t(bits) <= 8 * size;
      }
    }
    if (!ok)
      throw std::invalid_argument(fmt::format("wire codec blob: tile {}'s offset or size is out of range", t));
  }
  return h;
}

WireCodecTable wire_codec_table_of(const uint8_t* blob, int64_t bytes) {
  const WireCodecHeader h = wire_codec_header(blob, bytes);
  WireCodecTable t;
  t.dtype = DType(h.dtype);
  std::memcpy(t.lengths.data(), blob + kWireLengthsOffset, kWireSymbols);
  fill_tables(t);
  // The blob's stored tables must be the ones its lengths imply: the GPU decodes with the stored ones.
  for (int s = 0; s < 256; ++s)
    if (get_le<uint32_t>(blob + kWireEncodeTableOffset + 4 * s) != t.encode[s])
      throw std::invalid_argument("wire codec blob: encode table does not match its code lengths");
  for (size_t i = 0; i < t.decode.size(); ++i)
    if (get_le<uint16_t>(blob + kWireDecodeTableOffset + 2 * i) != t.decode[i])
      throw std::invalid_argument("wire codec blob: decode table does not match its code lengths");
  return t;
}

void wire_codec_decode(const uint8_t* blob, int64_t bytes, uint16_t* out, int64_t n, int threads) {
  const WireCodecTable table = wire_codec_table_of(blob, bytes);
  const WireCodecHeader h = wire_codec_header(blob, bytes);
  if (int64_t(h.elements) != n)
    throw std::invalid_argument(fmt::format("wire codec blob: holds {} elements, {} expected", h.elements, n));
  const DType dt = table.dtype;
  const uint8_t* raw = blob + raw_offset(n);
  const uint8_t* stream = blob + wire_codec_stream_offset(n);
  const uint8_t* chunk_bits_p = blob + chunk_bits_offset(n);
  for_tiles(int64_t(h.tiles), threads, [&](int64_t t) {
    const int64_t base = t * kWireTileElems, m = tile_elems(n, t);
    const uint64_t v = get_le<uint64_t>(blob + offsets_offset() + 8 * t);
    const uint8_t* src = stream + (v & ~uint64_t(1));
    if (v & 1) {
      for (int64_t e = 0; e < m; ++e) out[base + e] = wire_word(dt, src[e], raw[base + e]);
      return;
    }
    const int64_t tile_bytes = int64_t(get_le<uint64_t>(blob + offsets_offset() + 8 * (t + 1)) & ~uint64_t(1)) -
                               int64_t(v & ~uint64_t(1));
    std::vector<uint32_t> words(size_t(tile_bytes / 4) + 2, 0);  // +2: peeks read one word past the last code
    std::memcpy(words.data(), src, size_t(tile_bytes));
    uint64_t start = 0;
    for (int c = 0; c < kWireChunks; ++c) {
      uint64_t pos = start;
      const uint64_t end = start + get_le<uint16_t>(chunk_bits_p + 2 * (t * kWireChunks + c));
      for (int64_t e = c; e < m; e += kWireChunks) {
        if (pos >= end) throw std::invalid_argument(fmt::format("wire codec blob: tile {} chunk {} ends early", t, c));
        const uint16_t entry = table.decode[peek(words.data(), pos, kWireMaxCodeLen)];
        uint32_t sym = entry & 0x1FFu;
        pos += entry >> 9;
        if (sym == kWireEscape) {
          sym = peek(words.data(), pos, 8);
          pos += 8;
        }
        out[base + e] = wire_word(dt, uint8_t(sym), raw[base + e]);
      }
      if (pos != end)
        throw std::invalid_argument(fmt::format("wire codec blob: tile {} chunk {} has {} bits, its codes {}", t, c,
                                                end - start, pos - start));
      start = end;
    }
  });
}

double wire_symbol_entropy(DType dt, const uint16_t* data, int64_t n) {
  check_dtype(dt);
  if (n == 0) return 0.0;
  std::array<uint64_t, 256> counts{};
  for (int64_t i = 0; i < n; ++i) counts[wire_symbol(dt, data[i])]++;
  double h = 0;
  for (uint64_t c : counts)
    if (c) {
      const double p = double(c) / double(n);
      h -= p * std::log2(p);
    }
  return h;
}

}  // namespace zo2
