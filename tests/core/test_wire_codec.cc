// The lossless wire codec: bitwise round trips (normal data, adversarial bit patterns, escapes, odd sizes), the
// worst-case bound, thread-count independence, malformed blobs, and coded size against the Shannon bound.
#include <catch2/catch_test_macros.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "core/wire_codec.h"
#include "engine/io/half_convert.h"

using namespace zo2;

namespace {

uint64_t fresh_seed() {
  std::random_device rd;
  return (uint64_t(rd()) << 32) | rd();
}

uint16_t to_bits(DType dt, float x) {
  return dt == DType::bf16 ? io::float_to_bf16_bits(x) : io::float_to_half_bits(x);
}

std::vector<uint16_t> normal_words(DType dt, int64_t n, float sigma, std::mt19937_64& rng) {
  std::normal_distribution<float> d(0.0f, sigma);
  std::vector<uint16_t> v(static_cast<size_t>(n));
  for (auto& w : v) w = to_bits(dt, d(rng));
  return v;
}

std::vector<uint8_t> encode(const WireCodecTable& t, const std::vector<uint16_t>& v, int threads = 0) {
  std::vector<uint8_t> blob(size_t(wire_codec_max_bytes(int64_t(v.size()))));
  const int64_t bytes = wire_codec_encode(t, v.data(), int64_t(v.size()), blob.data(), int64_t(blob.size()), threads);
  REQUIRE(bytes <= int64_t(blob.size()));
  REQUIRE(wire_codec_header(blob.data(), bytes).encoded_bytes == uint64_t(bytes));
  blob.resize(size_t(bytes));
  return blob;
}

// Encodes with `t`, decodes, and requires the words back bit for bit.
void round_trip(const WireCodecTable& t, const std::vector<uint16_t>& v, int threads = 0) {
  const auto blob = encode(t, v, threads);
  std::vector<uint16_t> back(v.size(), 0xDEAD);
  wire_codec_decode(blob.data(), int64_t(blob.size()), back.data(), int64_t(v.size()), threads);
  REQUIRE(std::memcmp(back.data(), v.data(), 2 * v.size()) == 0);
}

}  // namespace

TEST_CASE("symbol and raw byte split every 16-bit word and join back", "[wire_codec]") {
  for (DType dt : {DType::bf16, DType::f16})
    for (uint32_t w = 0; w < 65536; ++w)
      REQUIRE(wire_word(dt, wire_symbol(dt, uint16_t(w)), wire_raw(dt, uint16_t(w))) == w);
  // bf16's symbol is its exponent; fp16's leads with its exponent.
  CHECK(wire_symbol(DType::bf16, 0x3F80) == 127);  // 1.0
  CHECK(wire_symbol(DType::f16, 0x3C00) >> 3 == 15);  // 1.0
}

TEST_CASE("normal data round-trips bitwise for several sigma, both dtypes, with the table built on itself", "[wire_codec]") {
  const uint64_t seed = fresh_seed();
  INFO("seed " << seed);
  std::mt19937_64 rng(seed);
  for (DType dt : {DType::bf16, DType::f16})
    for (float sigma : {1e-4f, 0.02f, 1.0f, 300.0f}) {
      INFO(dtype_name(dt) << " sigma " << sigma);
      const auto v = normal_words(dt, 3 * kWireTileElems + 777, sigma, rng);
      round_trip(wire_codec_table(dt, v.data(), int64_t(v.size())), v);
    }
}

TEST_CASE("adversarial bit patterns round-trip: every word, NaN payloads, infinities, subnormals, signed zeros", "[wire_codec]") {
  const uint64_t seed = fresh_seed();
  INFO("seed " << seed);
  std::mt19937_64 rng(seed);
  for (DType dt : {DType::bf16, DType::f16}) {
    INFO(dtype_name(dt));
    std::vector<uint16_t> all(65536);
    for (uint32_t w = 0; w < 65536; ++w) all[w] = uint16_t(w);
    // every exponent value with every mantissa and sign: NaNs (all payloads), +-Inf, subnormals, +-0 included
    round_trip(wire_codec_table(dt, all.data(), int64_t(all.size())), all);
    std::shuffle(all.begin(), all.end(), rng);
    round_trip(wire_codec_table(dt, all.data(), int64_t(all.size())), all);
    // specials only, table built on them
    std::vector<uint16_t> specials;
    const uint16_t inf = dt == DType::bf16 ? 0x7F80 : 0x7C00, qnan = dt == DType::bf16 ? 0x7FC1 : 0x7E01;
    for (int i = 0; i < 5000; ++i)
      for (uint16_t w : {uint16_t(0x0000), uint16_t(0x8000), inf, uint16_t(inf | 0x8000), qnan, uint16_t(0x0001),
                         uint16_t(0x8003), uint16_t(inf + 1), uint16_t(0xFFFF)})
        specials.push_back(w);
    round_trip(wire_codec_table(dt, specials.data(), int64_t(specials.size())), specials);
    // uniformly random words
    std::vector<uint16_t> random(2 * kWireTileElems + 5);
    for (auto& w : random) w = uint16_t(rng());
    round_trip(wire_codec_table(dt, random.data(), int64_t(random.size())), random);
  }
}

TEST_CASE("symbols outside the table are escaped: a table built on one distribution codes another exactly", "[wire_codec]") {
  const uint64_t seed = fresh_seed();
  INFO("seed " << seed);
  std::mt19937_64 rng(seed);
  for (DType dt : {DType::bf16, DType::f16}) {
    INFO(dtype_name(dt));
    const auto narrow = normal_words(dt, 4096, 0.02f, rng);
    const WireCodecTable t = wire_codec_table(dt, narrow.data(), int64_t(narrow.size()));
    int missing = 0;
    for (int s = 0; s < 256; ++s) missing += t.lengths[s] == 0;
    REQUIRE(missing > 100);  // the escape path is exercised by the data below
    round_trip(t, normal_words(dt, kWireTileElems + 3, 50.0f, rng), 3);
    std::vector<uint16_t> random(kWireTileElems * 2 + 1);
    for (auto& w : random) w = uint16_t(rng());
    round_trip(t, random, 2);
    // a constant block's table (one symbol and the escape) on everything
    const std::vector<uint16_t> zeros(1000, 0);
    round_trip(wire_codec_table(dt, zeros.data(), 1000), random);
    // and a table from no data at all
    round_trip(wire_codec_table(dt, nullptr, 0), random);
  }
}

TEST_CASE("sizes at and around chunk and tile boundaries round-trip, with any thread count giving the same bytes", "[wire_codec]") {
  const uint64_t seed = fresh_seed();
  INFO("seed " << seed);
  std::mt19937_64 rng(seed);
  const DType dt = DType::bf16;
  const auto big = normal_words(dt, 2 * kWireTileElems + 2, 0.02f, rng);
  const WireCodecTable t = wire_codec_table(dt, big.data(), int64_t(big.size()));
  for (int64_t n : {int64_t(0), int64_t(1), int64_t(2), int64_t(kWireChunks - 1), int64_t(kWireChunks),
                    int64_t(kWireChunks + 1), int64_t(kWireChunkElems - 1), int64_t(kWireChunkElems + 1),
                    kWireTileElems - 1, kWireTileElems, kWireTileElems + 1, 2 * kWireTileElems + 1}) {
    INFO("n " << n);
    const std::vector<uint16_t> v(big.begin(), big.begin() + n);
    round_trip(t, v, 1);
    round_trip(t, v, 4);
    REQUIRE(encode(t, v, 1) == encode(t, v, 3));
    REQUIRE(int64_t(encode(t, v).size()) <= wire_codec_max_bytes(n));
  }
}

TEST_CASE("the worst case bound holds and is at most the raw size plus the fixed overhead", "[wire_codec]") {
  const uint64_t seed = fresh_seed();
  INFO("seed " << seed);
  std::mt19937_64 rng(seed);
  for (DType dt : {DType::bf16, DType::f16}) {
    // all symbols escaped: a table of one symbol, data avoiding it
    const std::vector<uint16_t> ones(10, dt == DType::bf16 ? 0x3F80 : 0x3C00);
    const WireCodecTable t = wire_codec_table(dt, ones.data(), 10);
    std::vector<uint16_t> v(kWireTileElems + 100);
    for (auto& w : v) w = uint16_t(rng() & 0x7FFF) ^ 0x4000;  // exponents far from 1.0's
    const auto blob = encode(t, v);
    CHECK(int64_t(blob.size()) <= wire_codec_max_bytes(int64_t(v.size())));
    // the bound: 2 bytes per element plus the header/table, offsets, chunk lengths and paddings
    const int64_t n = int64_t(v.size());
    CHECK(wire_codec_max_bytes(n) <= 2 * n + kWireTableEnd + 10 * wire_codec_tiles(n) +
                                         2 * kWireChunks * wire_codec_tiles(n) + 64 + 16 * wire_codec_tiles(n));
    std::vector<uint16_t> back(v.size());
    wire_codec_decode(blob.data(), int64_t(blob.size()), back.data(), n);
    REQUIRE(back == v);
  }
}

TEST_CASE("malformed blobs and wrong arguments are refused with a message", "[wire_codec]") {
  std::mt19937_64 rng(fresh_seed());
  const auto v = normal_words(DType::bf16, 5000, 0.02f, rng);
  const WireCodecTable t = wire_codec_table(DType::bf16, v.data(), int64_t(v.size()));
  auto blob = encode(t, v);
  std::vector<uint16_t> back(v.size());
  CHECK_THROWS_AS(wire_codec_decode(blob.data(), int64_t(blob.size()), back.data(), 4999), std::invalid_argument);
  CHECK_THROWS_AS(wire_codec_decode(blob.data(), 100, back.data(), 5000), std::invalid_argument);
  CHECK_THROWS_AS(wire_codec_decode(blob.data(), int64_t(blob.size()) - 1, back.data(), 5000), std::invalid_argument);
  CHECK_THROWS_AS(wire_codec_table(DType::f32, v.data(), 1), std::invalid_argument);
  std::vector<uint8_t> small(100);
  CHECK_THROWS_AS(wire_codec_encode(t, v.data(), 5000, small.data(), 100), std::invalid_argument);
  auto bad = blob;
  bad[0] ^= 1;  // magic
  CHECK_THROWS_AS(wire_codec_decode(bad.data(), int64_t(bad.size()), back.data(), 5000), std::invalid_argument);
  bad = blob;
  bad[kWireLengthsOffset + wire_symbol(DType::bf16, v[0])] += 1;  // lengths no longer a complete code
  CHECK_THROWS_AS(wire_codec_decode(bad.data(), int64_t(bad.size()), back.data(), 5000), std::invalid_argument);
  bad = blob;
  bad[kWireDecodeTableOffset + 10] ^= 1;  // stored decode table disagrees with the lengths
  CHECK_THROWS_AS(wire_codec_decode(bad.data(), int64_t(bad.size()), back.data(), 5000), std::invalid_argument);
  bad = blob;
  const int64_t chunk_bits = kWireTableEnd + 16;  // one tile: offsets u64[2] then the chunk lengths
  bad[chunk_bits] += 1;  // chunk 0 one bit longer than its codes
  CHECK_THROWS_AS(wire_codec_decode(bad.data(), int64_t(bad.size()), back.data(), 5000), std::invalid_argument);
}

TEST_CASE("coded size is within the Shannon bound of the symbol plane plus the format's overhead", "[wire_codec]") {
  const uint64_t seed = fresh_seed();
  INFO("seed " << seed);
  std::mt19937_64 rng(seed);
  // Tolerance: a Huffman code's redundancy on these skewed distributions is well under a tenth of a bit per
  // symbol; overhead: table, offsets, 16 bits per chunk and tile padding.
  const double slack_bits = 0.1;
  for (DType dt : {DType::bf16, DType::f16})
    for (float sigma : {0.02f, 1.0f}) {
      const int64_t n = 8 * kWireTileElems;
      const auto v = normal_words(dt, n, sigma, rng);
      const WireCodecTable t = wire_codec_table(dt, v.data(), n);
      const auto blob = encode(t, v);
      const double h = wire_symbol_entropy(dt, v.data(), n);
      const int64_t overhead = wire_codec_stream_offset(n) - n + 16 * wire_codec_tiles(n) + 16;
      const double stream_bits = 8.0 * double(int64_t(blob.size()) - wire_codec_stream_offset(n) - 16);
      INFO(dtype_name(dt) << " sigma " << sigma << ": entropy " << h << " bits, coded "
                          << stream_bits / double(n) << " bits per element, blob " << blob.size() << " of "
                          << 2 * n << " raw bytes");
      CHECK(stream_bits / double(n) >= h - 1e-9);  // no code beats the entropy (sanity of the measure)
      CHECK(double(blob.size()) <= double(n) * (1.0 + (h + slack_bits) / 8.0) + double(overhead));
      // the expectation: about 0.66 of the raw size for bf16 and 0.85 for fp16
      CHECK(double(blob.size()) / double(2 * n) < (dt == DType::bf16 ? 0.70 : 0.88));
    }
}
