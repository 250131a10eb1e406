// fp16/bf16 conversions: exhaustive round trips here, and bit-exact agreement with torch on fresh random floats.
#include <cmath>
#include <cstring>

#include <catch2/catch_test_macros.hpp>

#include "engine/io/half_convert.h"
#include "engine/io/npy.h"
#include "io_test_util.h"

using namespace zo2::io;
using namespace zo2::io::test;

TEST_CASE("every fp16 and bf16 value survives a trip through fp32", "[half]") {
  for (uint32_t b = 0; b <= 0xFFFF; ++b) {
    const auto h = static_cast<uint16_t>(b);
    INFO("bits 0x" << std::hex << b);
    const float fh = half_bits_to_float(h), fb = bf16_bits_to_float(h);
    if (std::isnan(fh)) CHECK(std::isnan(half_bits_to_float(float_to_half_bits(fh))));
    else REQUIRE(float_to_half_bits(fh) == h);
    if (std::isnan(fb)) CHECK(std::isnan(bf16_bits_to_float(float_to_bf16_bits(fb))));
    else REQUIRE(float_to_bf16_bits(fb) == h);
  }
  CHECK(half_bits_to_float(0x3C00) == 1.0f);
  CHECK(half_bits_to_float(0x7BFF) == 65504.0f);
  CHECK(half_bits_to_float(0x0001) == std::ldexp(1.0f, -24));
  CHECK(float_to_half_bits(65519.99f) == 0x7BFF);
  CHECK(float_to_half_bits(65520.0f) == 0x7C00);
  CHECK(float_to_half_bits(std::ldexp(1.0f, -25)) == 0x0000);              // halfway to the first subnormal: even
  CHECK(float_to_half_bits(std::ldexp(1.5f, -25)) == 0x0001);
  CHECK(float_to_half_bits(1.0f + std::ldexp(1.0f, -11)) == 0x3C00);       // halfway between 1 and next: even
  CHECK(float_to_half_bits(1.0f + 3 * std::ldexp(1.0f, -11)) == 0x3C02);   // halfway, odd below: up
  CHECK(float_to_bf16_bits(1.0f + std::ldexp(1.0f, -8)) == 0x3F80);
  CHECK(float_to_bf16_bits(1.0f + 3 * std::ldexp(1.0f, -8)) == 0x3F82);
  CHECK(float_to_bf16_bits(3.4e38f) == 0x7F80);                            // rounds past the largest bf16
}

TEST_CASE("fp32 to fp16/bf16 matches torch bit for bit on fresh random floats", "[half][python]") {
  ZO2_REQUIRE_PYTHON("torch, numpy");
  const uint64_t seed = fresh_seed();
  INFO("seed " << seed);
  std::mt19937_64 rng(seed);
  TempDir dir;
  // Random bit patterns cover every exponent (subnormal halves, overflow, NaN); values a hair from a rounding
  // boundary test the ties.
  std::vector<float> x(1 << 16);
  for (size_t i = 0; i < x.size(); ++i) {
    uint32_t u = static_cast<uint32_t>(rng());
    if (i % 4 == 1) u = (u & 0x8000E000u) | (0x33000000u + (static_cast<uint32_t>(rng()) % 0x15000000u));
    if (i % 4 == 2) u = (u & ~0xFFFu) | 0x1000u | ((rng() % 3) + 0xFFF) % 0x1000;  // fp16 ties and neighbours
    if (i % 4 == 3) u = (u & ~0xFFFFu) | (0x8000u + static_cast<uint32_t>(rng() % 3) - 1);  // bf16 ties
    std::memcpy(&x[i], &u, 4);
  }
  write_npy_float32(dir / "x.npy", x.data(), {static_cast<int64_t>(x.size())});
  ZO2_REQUIRE_PYTHON_OK(run_python(R"(
import sys, numpy as np, torch
d = sys.argv[1]
x = torch.from_numpy(np.load(f'{d}/x.npy'))
np.save(f'{d}/h.npy', x.to(torch.float16).view(torch.int16).numpy().view(np.uint16))
np.save(f'{d}/b.npy', x.to(torch.bfloat16).view(torch.int16).numpy().view(np.uint16))
allbits = torch.arange(65536, dtype=torch.int32).to(torch.int16)
np.save(f'{d}/h2f.npy', allbits.view(torch.float16).float().numpy())
np.save(f'{d}/b2f.npy', allbits.view(torch.bfloat16).float().numpy())
)",
                                   {dir.path().string()}));
  const auto h = read_npy(dir / "h.npy"), b = read_npy(dir / "b.npy");
  REQUIRE(h.header.descr == "<u2");
  REQUIRE(h.data.size() == x.size() * 2);
  REQUIRE(b.data.size() == x.size() * 2);
  size_t mismatches = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    uint16_t th, tb;
    std::memcpy(&th, h.data.data() + 2 * i, 2);
    std::memcpy(&tb, b.data.data() + 2 * i, 2);
    const uint16_t mh = float_to_half_bits(x[i]), mb = float_to_bf16_bits(x[i]);
    // NaN payloads differ between libraries; NaN-ness must not.
    const bool ok_h = std::isnan(x[i]) ? std::isnan(half_bits_to_float(th)) && std::isnan(half_bits_to_float(mh))
                                       : th == mh;
    const bool ok_b = std::isnan(x[i]) ? std::isnan(bf16_bits_to_float(tb)) && std::isnan(bf16_bits_to_float(mb))
                                       : tb == mb;
    if (!ok_h || !ok_b) {
      if (++mismatches <= 5) {
        uint32_t u;
        std::memcpy(&u, &x[i], 4);
        UNSCOPED_INFO("x bits 0x" << std::hex << u << ": fp16 torch 0x" << th << " ours 0x" << mh << ", bf16 torch 0x"
                                  << tb << " ours 0x" << mb);
      }
    }
  }
  CHECK(mismatches == 0);

  const auto h2f = read_npy_float32(dir / "h2f.npy"), b2f = read_npy_float32(dir / "b2f.npy");
  for (uint32_t bits = 0; bits <= 0xFFFF; ++bits) {
    const float th = h2f.values[bits], tb = b2f.values[bits];
    const float mh = half_bits_to_float(static_cast<uint16_t>(bits)), mb = bf16_bits_to_float(static_cast<uint16_t>(bits));
    if (std::isnan(th)) REQUIRE(std::isnan(mh));
    else REQUIRE(std::memcmp(&th, &mh, 4) == 0);
    if (std::isnan(tb)) REQUIRE(std::isnan(mb));
    else REQUIRE(std::memcmp(&tb, &mb, 4) == 0);
  }
}
