// fp16 / bf16 <-> fp32 on the host, bit-exact with round to nearest even (as numpy's astype and torch's .to do).
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace zo2::io {

namespace detail {
inline uint32_t float_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}
inline float bits_float(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}
}  // namespace detail

// IEEE binary16. Overflow (|x| >= 65520) gives infinity; values below 2^-14 become subnormals or zero; NaN stays a
// quiet NaN with the sign and the top payload bits.
inline uint16_t float_to_half_bits(float f) {
  const uint32_t x = detail::float_bits(f);
  const uint32_t sign = (x >> 16) & 0x8000u;
  uint32_t a = x & 0x7FFFFFFFu;
  if (a >= 0x7F800000u)  // inf or NaN
    return static_cast<uint16_t>(sign | 0x7C00u | (a > 0x7F800000u ? 0x0200u | ((a >> 13) & 0x3FFu) : 0u));
  if (a >= 0x477FF000u) return static_cast<uint16_t>(sign | 0x7C00u);  // halfway to 65536 and above: rounds to inf
  if (a < 0x38800000u) {
    // Subnormal half (below 2^-14): adding 0.5f, whose ulp is 2^-24 (the subnormal half step), lets the FPU round to
    // nearest even; the low mantissa bits are then the half's bits. Needs the default rounding mode (no fast-math).
    const float sum = detail::bits_float(a) + 0.5f;
    return static_cast<uint16_t>(sign | (detail::float_bits(sum) - 0x3F000000u));
  }
  // Normal: rebias the exponent (127 -> 15) and round the 13 dropped bits to nearest even; a mantissa carry
  // correctly bumps the exponent.
  const uint32_t odd = (a >> 13) & 1u;
  a += 0xC8000FFFu + odd;  // -(112 << 23) + 0xFFF
  return static_cast<uint16_t>(sign | (a >> 13));
}

inline float half_bits_to_float(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1Fu, mant = h & 0x3FFu;
  if (exp == 0) {
    // Zero or subnormal: mant × 2^-24 is exact in float.
    const float v = static_cast<float>(mant) * detail::bits_float(0x33800000u);  // 2^-24
    return detail::bits_float(sign | detail::float_bits(v));
  }
  if (exp == 31) return detail::bits_float(sign | 0x7F800000u | (mant << 13));
  return detail::bits_float(sign | ((exp + 112) << 23) | (mant << 13));
}

// bfloat16: the top 16 bits of a float, rounded to nearest even; NaN stays a quiet NaN with its sign.
inline uint16_t float_to_bf16_bits(float f) {
  const uint32_t x = detail::float_bits(f);
  if ((x & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<uint16_t>((x >> 16) | 0x0040u);
  return static_cast<uint16_t>((x + 0x7FFFu + ((x >> 16) & 1u)) >> 16);
}

inline float bf16_bits_to_float(uint16_t b) { return detail::bits_float(uint32_t(b) << 16); }

inline void float_to_half(const float* src, uint16_t* dst, size_t n) {
  for (size_t i = 0; i < n; ++i) dst[i] = float_to_half_bits(src[i]);
}
inline void half_to_float(const uint16_t* src, float* dst, size_t n) {
  for (size_t i = 0; i < n; ++i) dst[i] = half_bits_to_float(src[i]);
}
inline void float_to_bf16(const float* src, uint16_t* dst, size_t n) {
  for (size_t i = 0; i < n; ++i) dst[i] = float_to_bf16_bits(src[i]);
}
inline void bf16_to_float(const uint16_t* src, float* dst, size_t n) {
  for (size_t i = 0; i < n; ++i) dst[i] = bf16_bits_to_float(src[i]);
}

}  // namespace zo2::io
