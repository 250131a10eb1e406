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
