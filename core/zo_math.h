// The arithmetic of one fused ZO pass on one element, shared by the CPU loop and the CUDA kernel so both compute
// the same function:  t = theta - lr*(g*z_prev + wd*theta)   (pending update, when there is one)
//                     out = t + scale*z_new                   (perturbation: +eps, -2eps or +eps)
// all in fp32. Half-precision storage: the updated value t is rounded stochastically to the storage format (random
// bits from the counter RNG's rounding stream, so runs are reproducible), then t + scale*z is rounded to nearest.
// Why: lr*g*z is often 1e-7 while a bf16 weight's ulp near 0.02 is 1e-4; round-to-nearest would drop every update.
#pragma once
#include <cstdint>

#include "core/philox.h"

namespace zo2 {

struct ZoPassCoeffs {
  bool has_update = false;      // apply the pending update of the previous step first
  uint64_t update_seed = 0;     // step seed of the pending update's z
  float lr = 0.0f;
  float projected_grad = 0.0f;  // g of the pending update
  float weight_decay = 0.0f;
  uint64_t perturb_seed = 0;    // step seed of this step's z
  float perturb_scale = 0.0f;   // +eps, -2eps, +eps; 0 flushes the pending update only
};

ZO2_HD float zo_updated_value(float theta, float z_prev, bool decay, const ZoPassCoeffs& k) {
  const float wd = decay ? k.weight_decay : 0.0f;
  return theta - k.lr * (k.projected_grad * z_prev + wd * theta);
}

// ---- Portable rounding of fp32 to the 16-bit formats (bit patterns), used for stochastic rounding. ----

ZO2_HD uint32_t float_bits(float f) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(f);
#else
  uint32_t u;
  __builtin_memcpy(&u, &f, 4);
  return u;
#endif
}
ZO2_HD float bits_float(uint32_t u) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(u);
#else
  float f;
  __builtin_memcpy(&f, &u, 4);
  return f;
#endif
}

// bf16 stochastic rounding: add 16 random bits below the kept mantissa, then truncate. Exact for values already
// representable; rounds up with probability equal to the discarded fraction. NaN/Inf pass through.
ZO2_HD uint16_t bf16_round_stochastic(float x, uint32_t random_bits) {
  const uint32_t u = float_bits(x);
  if ((u & 0x7F800000u) == 0x7F800000u) return uint16_t(u >> 16);
  return uint16_t((u + (random_bits & 0xFFFFu)) >> 16);
}

ZO2_HD float bf16_to_float(uint16_t h) { return bits_float(uint32_t(h) << 16); }

// fp16 from fp32 by truncation toward zero (the lower neighbour in magnitude), and the fraction of an fp16 ulp that
// truncation dropped, in [0, 1). Covers normals, subnormals and overflow to Inf.
ZO2_HD float fp16_bits_to_float(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1Fu, man = h & 0x3FFu;
  if (exp == 0) {  // zero or subnormal: man * 2^-24
    const float v = float(man) * (1.0f / 16777216.0f);
    return bits_float(float_bits(v) | sign);
  }
  if (exp == 31) return bits_float(sign | 0x7F800000u | (man << 13));
  return bits_float(sign | ((exp + 112u) << 23) | (man << 13));
}

// Slow but general fp16 stochastic rounding (subnormals, values near the top of the range): scale to units of the
// ulp, truncate, round up with probability equal to the dropped fraction (random from the top 24 bits).
#if defined(__CUDA_ARCH__)
__device__ __noinline__  // cold path: keep it out of the kernels' hot loop
#else
inline
#endif
uint16_t fp16_round_stochastic_general(float x, uint32_t random_bits) {
  const uint32_t u = float_bits(x);
  const uint16_t sign = uint16_t((u >> 16) & 0x8000u);
  const float a = bits_float(u & 0x7FFFFFFFu);
  if (!(a == a)) return uint16_t(sign | 0x7E00u);  // NaN
  if (a >= 65520.0f) return uint16_t(sign | 0x7C00u);
  int e = int((u >> 23) & 0xFFu) - 127;
  if (e < -14) e = -14;
  const float ulp = bits_float(uint32_t(e - 10 + 127) << 23);
  const float q = a / ulp;                    // exact: power-of-two scaling
  float lower = float(uint32_t(q));           // truncated multiple of ulp (q < 2^11 so exact)
  const float frac = q - lower;               // exact
  const float r = float(random_bits >> 8) * (1.0f / 16777216.0f);  // uniform in [0, 1)
  if (r < frac) lower += 1.0f;
  const float v = lower * ulp;                // representable in fp16 (may step to the next binade: still exact)
  uint16_t bits;
  if (v < 6.103515625e-05f) {
    bits = uint16_t(v * 16777216.0f);          // subnormal: v / 2^-24
  } else if (v >= 65520.0f) {
    bits = 0x7C00u;
  } else {
    const uint32_t vb = float_bits(v);
    bits = uint16_t(((((vb >> 23) & 0xFFu) - 112u) << 10) | ((vb >> 13) & 0x3FFu));
  }
  return uint16_t(sign | bits);
}

// fp16 stochastic rounding. For fp16 normals (2^-14 <= |x| < 65504) fp32 keeps 13 more mantissa bits than fp16:
// adding 13 random bits there and truncating rounds up with probability (dropped bits) / 2^13, exactly unbiased,
// in a handful of integer operations (a carry into the exponent is the correct next binade). Everything else takes
// the general path. The same bit operations on CPU and GPU, so both round alike.
ZO2_HD uint16_t fp16_round_stochastic(float x, uint32_t random_bits) {
  const uint32_t u = float_bits(x);
  const uint32_t a = u & 0x7FFFFFFFu;
  if (a >= 0x38800000u && a < 0x477FE000u) {  // [2^-14, 65504)
    const uint32_t t = a + (random_bits & 0x1FFFu);
    if (t >= 0x47800000u) return fp16_round_stochastic_general(x, random_bits);  // cannot happen below 65504
    return uint16_t(((u >> 16) & 0x8000u) | ((((t >> 23) & 0xFFu) - 112u) << 10) | ((t >> 13) & 0x3FFu));
  }
  return fp16_round_stochastic_general(x, random_bits);
}

}  // namespace zo2
