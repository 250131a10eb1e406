// The arithmetic of one fused ZO pass on one element, shared by the CPU loop and the CUDA kernel so both compute
// the same function, all in fp32:
//   pending update + perturbation:  t = theta - lr*(g*z_prev + wd*theta);  out = t + scale*z
//   folded restore (fold_update):   r = theta + scale*z;  out = r - lr*(g*z + wd*r)   (one z: this step's)
// Half-precision storage: an updated value is rounded stochastically to the storage format (random bits from the
// rounding stream of the step whose update it is, core/philox.h, so runs are reproducible); a perturbed value is
// rounded to nearest. The folded restore rounds r to nearest first, so it stores exactly what the restore pass
// followed by the next step's update would: the two orders give bitwise the same weights.
// Why stochastic: lr*g*z is often 1e-7 while a bf16 weight's ulp near 0.02 is 1e-4; round-to-nearest would drop
// every update.
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
  // The folded restore: after adding perturb_scale*z, apply this step's update (projected_grad, lr, weight_decay)
  // with the same z, instead of leaving it pending for the next step (has_update must then be false).
  bool fold_update = false;
};

// Written with explicit roundings on the GPU: the pending-update pass and the folded restore inline this in different
// surroundings, and nvcc's free choice of which products to fuse could then differ between the two; these pin it.
// The host build does not contract (-ffp-contract=off, CMakeLists.txt): the plain expression is the same arithmetic.
ZO2_HD float zo_updated_value(float theta, float z_prev, bool decay, const ZoPassCoeffs& k) {
  const float wd = decay ? k.weight_decay : 0.0f;
#if defined(__CUDA_ARCH__)
  return __fmaf_rn(-k.lr, __fmaf_rn(k.projected_grad, z_prev, __fmul_rn(wd, theta)), theta);
#else
  return theta - k.lr * (k.projected_grad * z_prev + wd * theta);
#endif
}

// theta + scale*z, rounded once on the GPU (an fma) and as written on the CPU.
ZO2_HD float zo_perturbed_value(float theta, float z, const ZoPassCoeffs& k) {
#if defined(__CUDA_ARCH__)
  return __fmaf_rn(k.perturb_scale, z, theta);
#else
  return theta + k.perturb_scale * z;
#endif
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

// fp16 bits to fp32, exactly (normals, subnormals, Inf, NaN).
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

// fp32 to fp16 bits by truncation toward zero (IEEE roundTowardZero, as the GPU's cvt.rz): the largest fp16 not above
// |f| in magnitude, 65504 for anything finite beyond it; Inf stays Inf, NaN becomes a quiet NaN.
ZO2_HD uint16_t fp16_bits_rz(float f) {
  const uint32_t u = float_bits(f), sign = (u >> 16) & 0x8000u, a = u & 0x7FFFFFFFu;
  if (a > 0x7F800000u) return uint16_t(sign | 0x7E00u);
  if (a == 0x7F800000u) return uint16_t(sign | 0x7C00u);
  if (a >= 0x477FE000u) return uint16_t(sign | 0x7BFFu);                 // 65504 and up
  if (a >= 0x38800000u) return uint16_t(sign | (((a >> 23) - 112u) << 10) | ((a >> 13) & 0x3FFu));  // normal
  return uint16_t(sign | uint32_t(bits_float(a) * 16777216.0f));        // subnormal or zero: |f| / 2^-24, truncated
}

// fp16 stochastic rounding, in two steps so the GPU does the second in one instruction: add noise to the magnitude
// (fp16_stochastic_noised), then truncate toward zero (fp16_bits_rz; the GPU's round-toward-zero conversion). The
// noise is 13 random bits r in units of 2^-13 of x's fp16 ulp, so x rounds up with probability (dropped part) / ulp:
//   fp16 normals (2^-14 <= |x| < 65504): r added to the fp32 bits just below fp16's mantissa (a carry into the
//     exponent is the correct next binade), exactly unbiased;
//   fp16 subnormals (|x| < 2^-14, ulp 2^-24): r * 2^-37 added in fp32, unbiased to within 2^-13 of an ulp;
//   65504 and up, Inf, NaN: no noise (65504 and up truncate to 65504).
// No branches on the GPU (selects), the same bit operations on the CPU, so both round alike.
ZO2_HD float fp16_stochastic_noised(float x, uint32_t random_bits) {
  const uint32_t u = float_bits(x), a = u & 0x7FFFFFFFu, r = random_bits & 0x1FFFu;
  const uint32_t below = float_bits(bits_float(a) + float(r) * 7.275957614183426e-12f);  // r * 2^-37
  const uint32_t noised = a >= 0x477FE000u ? a : (a >= 0x38800000u ? a + r : below);
  return bits_float(noised | (u & 0x80000000u));
}

ZO2_HD uint16_t fp16_round_stochastic(float x, uint32_t random_bits) {
  return fp16_bits_rz(fp16_stochastic_noised(x, random_bits));
}

}  // namespace zo2
