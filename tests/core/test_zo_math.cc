// The 16-bit rounding of core/zo_math.h: fp16 truncation toward zero, and stochastic rounding's expectation.
#include <catch2/catch_test_macros.hpp>

#include <cmath>
#include <cstring>
#include <random>

#include "core/zo_math.h"

using namespace zo2;

namespace {

uint64_t fresh_seed() {
  std::random_device rd;
  return (uint64_t(rd()) << 32) | rd();
}

float from_bits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// A random finite float whose magnitude is spread over fp16's whole range and a little beyond (2^-30 .. 2^17).
float random_float(std::mt19937_64& rng) {
  std::uniform_real_distribution<double> log2_mag(-30.0, 17.0);
  const double v = std::exp2(log2_mag(rng)) * (rng() % 2 ? 1.0 : -1.0);
  return float(v);
}

}  // namespace

TEST_CASE("fp16_bits_rz is the largest fp16 not above |x|, checked through the exact fp16-to-float map") {
  const uint64_t seed = fresh_seed();
  INFO("seed " << seed);
  std::mt19937_64 rng(seed);
  for (int i = 0; i < 200000; ++i) {
    const float x = random_float(rng);
    const uint16_t h = fp16_bits_rz(x);
    const float below = fp16_bits_to_float(h);
    INFO("x " << x << " bits " << h);
    REQUIRE(std::signbit(below) == std::signbit(x));
    REQUIRE(std::fabs(below) <= std::fabs(x));
    const uint16_t magnitude = h & 0x7FFFu;
    if (magnitude < 0x7BFFu) {  // the next fp16 up in magnitude is above |x| (65504 saturates)
      REQUIRE(std::fabs(fp16_bits_to_float(uint16_t(magnitude + 1))) > std::fabs(x));
    } else {
      REQUIRE(std::fabs(x) >= 65504.0f);
    }
  }
  CHECK(fp16_bits_rz(from_bits(0x7F800000u)) == 0x7C00u);  // Inf stays Inf
  CHECK(fp16_bits_rz(-0.0f) == 0x8000u);
  CHECK((fp16_bits_rz(from_bits(0x7FC00000u)) & 0x7C00u) == 0x7C00u);  // NaN stays NaN
  CHECK((fp16_bits_rz(from_bits(0x7FC00000u)) & 0x03FFu) != 0u);
}

TEST_CASE("fp16 stochastic rounding is unbiased over its 8192 random values") {
  // Exact expectation: every value of the 13 random bits once (the bits above them must not matter). Normals: the
  // mean is x exactly; subnormals (ulp 2^-24): within 1.5 x 2^-13 of an ulp; and the result is always one of x's two
  // fp16 neighbours.
  const uint64_t seed = fresh_seed();
  INFO("seed " << seed);
  std::mt19937_64 rng(seed);
  for (int i = 0; i < 300; ++i) {
    // A third in fp16's subnormal range [0, 2^-14), the rest anywhere.
    const float x = i < 100 ? float(std::ldexp(double(rng() % (1u << 24)) + 0.37, -38)) * (rng() % 2 ? 1.f : -1.f)
                            : random_float(rng);
    if (std::fabs(x) >= 65504.0f) continue;
    const float lo = fp16_bits_to_float(fp16_bits_rz(x));
    const double ulp = std::fabs(x) < 6.103515625e-05 ? std::ldexp(1.0, -24)
                                                       : std::ldexp(1.0, std::ilogb(std::fabs(x)) - 10);
    double sum = 0;
    for (uint32_t r = 0; r < 8192; ++r) {
      const float v = fp16_bits_to_float(fp16_round_stochastic(x, r * 0x9E3779B1u & 0xFFFFE000u | r));
      REQUIRE((v == lo || std::fabs(double(v) - double(lo)) == ulp));
      sum += double(v);
    }
    const double mean = sum / 8192.0;
    INFO("x " << x << " mean " << mean << " ulp " << ulp);
    const bool subnormal = std::fabs(x) < 6.103515625e-05;
    // Subnormals: one noise step (2^-37) of quantisation plus half a step of the fp32 sum's rounding.
    CHECK(std::fabs(mean - double(x)) <= (subnormal ? 1.5 * ulp / 8192.0 : 1e-9 * ulp));
  }
}

TEST_CASE("fp16 stochastic rounding leaves representable values, Inf and the top of the range alone") {
  const uint64_t seed = fresh_seed();
  INFO("seed " << seed);
  std::mt19937_64 rng(seed);
  for (int i = 0; i < 10000; ++i) {
    const uint16_t h = uint16_t(rng() % 0x7BFFu) | uint16_t(rng() % 2 ? 0x8000u : 0u);  // any finite fp16
    const uint32_t bits = uint32_t(rng());
    INFO("fp16 " << h << " random " << bits);
    REQUIRE(fp16_round_stochastic(fp16_bits_to_float(h), bits) == h);
  }
  CHECK(fp16_round_stochastic(65504.0f, 0x1FFFu) == 0x7BFFu);
  CHECK(fp16_round_stochastic(70000.0f, 0x1FFFu) == 0x7BFFu);
  CHECK(fp16_round_stochastic(from_bits(0xFF800000u), 0x1FFFu) == 0xFC00u);
}
