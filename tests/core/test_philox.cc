// The counter-based RNG contract: Philox4x32-10 known answers, and z's mean, variance and independence.
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_floating_point.hpp>

#include <cmath>
#include <random>
#include <vector>

#include "core/philox.h"
#include "core/philox_batch.h"

using namespace zo2;

TEST_CASE("Philox4x32-10 matches the Random123 known-answer vectors") {
  // kat_vectors of Random123 (philox4x32, 10 rounds).
  auto a = rng::philox4x32_10(0, 0, 0, 0, 0, 0);
  CHECK(a.w[0] == 0x6627e8d5u);
  CHECK(a.w[1] == 0xe169c58du);
  CHECK(a.w[2] == 0xbc57ac4cu);
  CHECK(a.w[3] == 0x9b00dbd8u);
  auto b = rng::philox4x32_10(0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu);
  CHECK(b.w[0] == 0x408f276du);
  CHECK(b.w[1] == 0x41c83b0eu);
  CHECK(b.w[2] == 0xa20bc7c6u);
  CHECK(b.w[3] == 0x6d5451fdu);
  auto c = rng::philox4x32_10(0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u, 0xa4093822u, 0x299f31d0u);
  CHECK(c.w[0] == 0xd16cfe09u);
  CHECK(c.w[1] == 0x94fdccebu);
  CHECK(c.w[2] == 0x5001e420u);
  CHECK(c.w[3] == 0x24126ea1u);
}

TEST_CASE("uniforms stay strictly inside (0, 1)") {
  CHECK(rng::uniform_open01(0u) > 0.0f);
  CHECK(rng::uniform_open01(0xffffffffu) < 1.0f);
  CHECK(std::isfinite(std::sqrt(-2.0f * std::log(rng::uniform_open01(0u)))));
}

TEST_CASE("z has mean 0 and variance 1, and is independent across seeds and elements") {
  std::random_device rd;
  const uint64_t run_seed = (uint64_t(rd()) << 32) | rd();
  INFO("run seed " << run_seed);
  const uint64_t seed_a = rng::step_seed(run_seed, 0), seed_b = rng::step_seed(run_seed, 1);
  REQUIRE(seed_a != seed_b);
  const int64_t n = 1 << 20;
  const uint64_t base = (uint64_t(rd()) << 20);  // anywhere in the 64-bit index space
  double sum = 0, sumsq = 0, cross_seed = 0, cross_lag1 = 0, cross_lag4 = 0, fourth = 0;
  std::vector<float> za(n + 4), zb(n);
  for (int64_t i = 0; i < n + 4; ++i) za[i] = rng::normal_at(seed_a, base + i);
  for (int64_t i = 0; i < n; ++i) zb[i] = rng::normal_at(seed_b, base + i);
  for (int64_t i = 0; i < n; ++i) {
    sum += za[i];
    sumsq += double(za[i]) * za[i];
    fourth += std::pow(double(za[i]), 4);
    cross_seed += double(za[i]) * zb[i];
    cross_lag1 += double(za[i]) * za[i + 1];
    cross_lag4 += double(za[i]) * za[i + 4];
  }
  // Standard errors for n = 2^20 draws: mean 1e-3, variance sqrt(2/n) = 1.4e-3, products 1e-3; 5 sigma bounds.
  CHECK(std::abs(sum / n) < 5e-3);
  CHECK(std::abs(sumsq / n - 1.0) < 7e-3);
  CHECK(std::abs(fourth / n - 3.0) < 0.05);  // normal kurtosis (sd of z^4 mean is sqrt(96/n) ~ 0.01)
  CHECK(std::abs(cross_seed / n) < 5e-3);
  CHECK(std::abs(cross_lag1 / n) < 5e-3);  // the Box-Muller pair partners
  CHECK(std::abs(cross_lag4 / n) < 5e-3);  // neighbouring Philox calls
}

TEST_CASE("normal_at is a pure function of (seed, index)") {
  std::random_device rd;
  const uint64_t seed = (uint64_t(rd()) << 32) | rd();
  for (uint64_t i = 0; i < 64; ++i) {
    const rng::Normal4 g = rng::normal4(seed, i / 4);
    CHECK(rng::normal_at(seed, i) == g.z[i % 4]);
  }
  CHECK(rng::normal_at(seed, 12345) == rng::normal_at(seed, 12345));
}

TEST_CASE("the lane-parallel Philox gives the scalar Philox's words, across the 32-bit counter carry") {
  std::mt19937_64 rng(std::random_device{}());
  for (int trial = 0; trial < 200; ++trial) {
    const rng::PhiloxKeys keys = rng::philox_keys(rng());
    // Near a carry into the counter's high word half the time, anywhere otherwise; any count, tiles and a tail.
    const uint64_t first = trial % 2 ? (uint64_t(rng() % 1000) << 32) - rng() % 40 : rng() >> 20;
    const int64_t groups = 1 + int64_t(rng() % 70);
    const uint32_t stream = uint32_t(trial % 3);
    std::vector<uint32_t> words(size_t(4 * groups) + 4, 0xDEADBEEFu);  // one group past the end must stay untouched
    rng::philox_words_batch(keys, first, groups, stream, words.data());
    for (int64_t j = 0; j < groups; ++j) {
      const rng::Words4 w = rng::philox_words(keys, first + uint64_t(j), stream);
      for (int k = 0; k < 4; ++k) {
        INFO("trial " << trial << " group " << j << " word " << k);
        REQUIRE(words[size_t(4 * j + k)] == w.w[k]);
      }
    }
    for (int k = 0; k < 4; ++k) CHECK(words[size_t(4 * groups + k)] == 0xDEADBEEFu);
  }
}

TEST_CASE("Philox2x32-10 (the rounding stream) matches the Random123 known-answer vectors") {
  // kat_vectors of Random123 (philox2x32, 10 rounds): counter {c0, c1}, key k.
  auto run = [](uint32_t c0, uint32_t c1, uint32_t key) {
    rng::RoundingKeys keys;
    for (int r = 0; r < 10; ++r) keys.k[r] = key + uint32_t(r) * 0x9E3779B9u;
    rng::philox2x32_10(c0, c1, keys);
    return std::pair<uint32_t, uint32_t>(c0, c1);
  };
  CHECK(run(0, 0, 0) == std::pair<uint32_t, uint32_t>(0xff1dae59u, 0x6cd10df2u));
  CHECK(run(0xffffffffu, 0xffffffffu, 0xffffffffu) == std::pair<uint32_t, uint32_t>(0x2c3f628bu, 0xab4fd7adu));
  CHECK(run(0x243f6a88u, 0x85a308d3u, 0x13198a2eu) == std::pair<uint32_t, uint32_t>(0xdd7ce038u, 0xf62a4c12u));
  // rounding_keys folds the step seed into the 32-bit key; rounding_bits4 splits the two words into four halves.
  const uint64_t seed = 0x0123456789abcdefull, group = 0xfedcba9876543210ull;
  const rng::Words4 bits = rng::rounding_bits4(rng::rounding_keys(seed), group);
  const auto [w0, w1] = run(uint32_t(group), uint32_t(group >> 32), 0x01234567u ^ 0x89abcdefu);
  CHECK(bits.w[0] == (w0 & 0xFFFFu));
  CHECK(bits.w[1] == (w0 >> 16));
  CHECK(bits.w[2] == (w1 & 0xFFFFu));
  CHECK(bits.w[3] == (w1 >> 16));
}

TEST_CASE("rounding bits are uniform 16-bit values, independent of the same element's z") {
  std::random_device rd;
  const uint64_t seed = rng::step_seed((uint64_t(rd()) << 32) | rd(), 7);
  INFO("step seed " << seed);
  const rng::RoundingKeys keys = rng::rounding_keys(seed);
  const int64_t groups = 1 << 18;  // 2^20 elements
  const uint64_t base = uint64_t(rd()) << 12;
  // 64 bins over the 16-bit value (its top 6 bits), and the low 6 bits (what fp16 rounding uses most finely) apart.
  std::vector<double> top(64, 0), low(64, 0);
  double cross_z = 0, cross_next = 0;
  double previous = 0;
  for (int64_t g = 0; g < groups; ++g) {
    const rng::Words4 b = rng::rounding_bits4(keys, base + uint64_t(g));
    const rng::Normal4 z = rng::normal4(seed, base + uint64_t(g));
    for (int lane = 0; lane < 4; ++lane) {
      REQUIRE(b.w[lane] <= 0xFFFFu);
      top[b.w[lane] >> 10] += 1;
      low[b.w[lane] & 63] += 1;
      const double u = (double(b.w[lane]) + 0.5) / 65536.0 - 0.5;  // centred uniform, variance 1/12
      cross_z += u * z.z[lane];
      cross_next += u * previous;
      previous = u;
    }
  }
  const double n = 4.0 * double(groups), expect = n / 64;
  double chi_top = 0, chi_low = 0;
  for (int i = 0; i < 64; ++i) {
    chi_top += (top[size_t(i)] - expect) * (top[size_t(i)] - expect) / expect;
    chi_low += (low[size_t(i)] - expect) * (low[size_t(i)] - expect) / expect;
  }
  // Chi-square with 63 degrees of freedom: mean 63, sd 11.2; 120 is beyond 5 sd.
  CHECK(chi_top < 120);
  CHECK(chi_low < 120);
  // Correlations: standard error sqrt(1/12 / n) ~ 2.8e-4 for u*z and 8e-5 for u*u'; 5 sigma bounds.
  CHECK(std::abs(cross_z / n) < 5 * std::sqrt(1.0 / 12 / n));
  CHECK(std::abs(cross_next / n) < 5 * (1.0 / 12) / std::sqrt(n));
}
