// The z contract, pinned here once for the CPU loops and the CUDA kernels:
//   z[i] = normal(Philox4x32-10(key = step seed, counter = {j lo, j hi, stream, 0})), j = i / 4,
// where i is the 64-bit global element index over all trainable elements in checkpoint order (a tied weight once).
// One Philox call gives four 32-bit words for elements 4j..4j+3; each word's top 23 bits make a uniform in (0, 1)
// ((k + 0.5) * 2^-23, never 0 or 1, exact in float), and Box-Muller turns the pairs (w0, w1) and (w2, w3) into four normals:
//   r = sqrt(-2 ln u_a), z_a = r cos(2 pi u_b), z_b = r sin(2 pi u_b).
// The step seed is splitmix64(run seed ^ splitmix64(step + 1)). Stream 0 is z. The random bits of stochastic rounding
// come from Philox2x32-10 (rounding_bits4 below): half the multiplies of a Philox4x32 call, and 16 bits per element
// are all that rounding needs. CPU and GPU agree to the rounding of log/sincos (box_muller says how far; tests state
// it), and bit for bit on the rounding stream.
#pragma once
#include <cmath>
#include <cstdint>

#if defined(__CUDACC__)
#define ZO2_HD __host__ __device__ __forceinline__
#else
#define ZO2_HD inline
#endif

namespace zo2::rng {

constexpr uint32_t kStreamZ = 0;

struct Words4 {
  uint32_t w[4];
};

ZO2_HD uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

ZO2_HD uint64_t step_seed(uint64_t run_seed, uint64_t step) { return splitmix64(run_seed ^ splitmix64(step + 1)); }

// Philox4x32 with 10 rounds (Salmon et al., SC'11; the Random123 constants). The round keys depend on the seed only,
// so a kernel computes them once (PhiloxKeys) and every group reuses them.
struct PhiloxKeys {
  uint32_t k0[10], k1[10];
};

ZO2_HD PhiloxKeys philox_keys(uint64_t seed) {
  constexpr uint32_t kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;
  PhiloxKeys keys;
  uint32_t k0 = uint32_t(seed), k1 = uint32_t(seed >> 32);
#if defined(__CUDA_ARCH__)
#pragma unroll
#endif
  for (int round = 0; round < 10; ++round) {
    keys.k0[round] = k0;
    keys.k1[round] = k1;
    k0 += kW0;
    k1 += kW1;
  }
  return keys;
}

ZO2_HD Words4 philox4x32_10(uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3, const PhiloxKeys& keys) {
  constexpr uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u;
#if defined(__CUDA_ARCH__)
#pragma unroll
#endif
  for (int round = 0; round < 10; ++round) {
#if defined(__CUDA_ARCH__)
    // 32-bit high and low products: written with 64-bit types, nvcc emits 64-bit multiplies (several IMADs each).
    const uint32_t hi0 = __umulhi(kM0, c0), lo0 = kM0 * c0;
    const uint32_t hi1 = __umulhi(kM1, c2), lo1 = kM1 * c2;
#else
    const uint64_t p0 = uint64_t(kM0) * c0;
    const uint64_t p1 = uint64_t(kM1) * c2;
    const uint32_t hi0 = uint32_t(p0 >> 32), lo0 = uint32_t(p0);
    const uint32_t hi1 = uint32_t(p1 >> 32), lo1 = uint32_t(p1);
#endif
    c0 = hi1 ^ c1 ^ keys.k0[round];
    c1 = lo1;
    c2 = hi0 ^ c3 ^ keys.k1[round];
    c3 = lo0;
  }
  return Words4{{c0, c1, c2, c3}};
}

ZO2_HD Words4 philox4x32_10(uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3, uint32_t k0, uint32_t k1) {
  return philox4x32_10(c0, c1, c2, c3, philox_keys(uint64_t(k0) | (uint64_t(k1) << 32)));
}

ZO2_HD Words4 philox_words(const PhiloxKeys& keys, uint64_t group, uint32_t stream) {
  return philox4x32_10(uint32_t(group), uint32_t(group >> 32), stream, 0u, keys);
}

ZO2_HD Words4 philox_words(uint64_t seed, uint64_t group, uint32_t stream) {
  return philox_words(philox_keys(seed), group, stream);
}

// The stochastic-rounding stream: element 4j+l of a step gets the 16-bit half l%2 (low half first) of word l/2 of
// Philox2x32-10(key = rounding_key(step seed), counter = j). Why not a second Philox4x32 call: the 16-bit update
// passes are bound by instruction issue, and this halves the rounding stream's multiplies (10 instead of 20 per
// four elements). Philox2x32-10 passes BigCrush (Salmon et al.); its 32-bit key is the step seed folded, so two
// steps share a rounding stream once in 2^32 pairs, which only correlates which way two roundings go.
struct RoundingKeys {
  uint32_t k[10];
};

ZO2_HD uint32_t rounding_key(uint64_t step_seed) { return uint32_t(step_seed) ^ uint32_t(step_seed >> 32); }

ZO2_HD RoundingKeys rounding_keys(uint64_t step_seed) {
  RoundingKeys keys;
  uint32_t k = rounding_key(step_seed);
#if defined(__CUDA_ARCH__)
#pragma unroll
#endif
  for (int round = 0; round < 10; ++round) {
    keys.k[round] = k;
    k += 0x9E3779B9u;
  }
  return keys;
}

// Philox2x32 with 10 rounds (Random123's constants; its known-answer vectors are in the tests).
ZO2_HD void philox2x32_10(uint32_t& c0, uint32_t& c1, const RoundingKeys& keys) {
  constexpr uint32_t kM = 0xD256D193u;
#if defined(__CUDA_ARCH__)
#pragma unroll
#endif
  for (int round = 0; round < 10; ++round) {
#if defined(__CUDA_ARCH__)
    const uint32_t hi = __umulhi(kM, c0), lo = kM * c0;
#else
    const uint64_t p = uint64_t(kM) * c0;
    const uint32_t hi = uint32_t(p >> 32), lo = uint32_t(p);
#endif
    c0 = hi ^ keys.k[round] ^ c1;
    c1 = lo;
  }
}

// The rounding bits of elements 4*group .. 4*group+3, 16 bits each in the low half of each word.
ZO2_HD Words4 rounding_bits4(const RoundingKeys& keys, uint64_t group) {
  uint32_t c0 = uint32_t(group), c1 = uint32_t(group >> 32);
  philox2x32_10(c0, c1, keys);
  return Words4{{c0 & 0xFFFFu, c0 >> 16, c1 & 0xFFFFu, c1 >> 16}};
}

// (k + 0.5) * 2^-23 for the top 23 bits k: strictly inside (0, 1) (24 bits would round the largest value up to 1.0,
// whose log is 0). Built from bits, no int-to-float conversion: 1 + k*2^-23 is exact in [1, 2), and subtracting
// 1 - 2^-24 is exact (Sterbenz), so CPU and GPU get the same float.
ZO2_HD float uniform_open01(uint32_t word) {
  uint32_t bits = (word >> 9) | 0x3F800000u;
  float one_plus;
#if defined(__CUDA_ARCH__)
  one_plus = __uint_as_float(bits);
#else
  __builtin_memcpy(&one_plus, &bits, 4);
#endif
  return one_plus - 0.99999994039535522461f;  // 1 - 2^-24
}

struct Normal4 {
  float z[4];
};

#if defined(__CUDA_ARCH__)
// The special-function unit (MUFU) without the guards that __logf, rsqrtf and __sincosf wrap around it for denormal
// inputs: every input here is a normal float (u >= 2^-24; r2 is 0 or >= about 1e-7), and the guards cost issue
// slots in a kernel that is bound by instruction issue.
__device__ __forceinline__ float sfu_lg2(float x) {
  float y;
  asm("lg2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
  return y;
}
__device__ __forceinline__ float sfu_sqrt(float x) {
  float y;
  asm("sqrt.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
  return y;
}
__device__ __forceinline__ float sfu_sin(float x) {
  float y;
  asm("sin.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
  return y;
}
__device__ __forceinline__ float sfu_cos(float x) {
  float y;
  asm("cos.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
  return y;
}
#endif

// The GPU uses the special-function unit (log2, sqrt, sin, cos: absolute error near 2^-21 in the log and the angle);
// the CPU uses libm here, and the CPU pass (engine/zo_kernels_cpu.cc) the same formula through ATen's vectorised
// log/sqrt/sin/cos (SLEEF, 1 ulp). They agree to about 1e-6 in z, except where u_a is within 1e-6 of 1 (r tiny),
// where the log's absolute error moves z by up to 1e-3: a few elements in ten million (the tests state both).
constexpr float kTwoPi = 6.2831853071795864769f;  // the Box–Muller angle is kTwoPi * u_b (CPU batch loop too)

ZO2_HD void box_muller(uint32_t wa, uint32_t wb, float& za, float& zb) {
  float s, c;
#if defined(__CUDA_ARCH__)
  constexpr float kMinusTwoLn2 = -1.3862943611198906188f;  // -2 ln x = -2 ln2 * log2 x
  // The approximate log2 of u just below 1 may come out as a tiny positive number: clamp r2 at 0 (z = 0 there).
  const float r = sfu_sqrt(fmaxf(kMinusTwoLn2 * sfu_lg2(uniform_open01(wa)), 0.0f));
  const float angle = kTwoPi * uniform_open01(wb);
  s = sfu_sin(angle);
  c = sfu_cos(angle);
#else
  const float r = std::sqrt(-2.0f * std::log(uniform_open01(wa)));
  const float angle = kTwoPi * uniform_open01(wb);
  s = std::sin(angle);
  c = std::cos(angle);
#endif
  za = r * c;
  zb = r * s;
}

// z for elements 4*group .. 4*group+3 of the step seed whose round keys are `keys`.
ZO2_HD Normal4 normal4(const PhiloxKeys& keys, uint64_t group) {
  const Words4 w = philox_words(keys, group, kStreamZ);
  Normal4 n;
  box_muller(w.w[0], w.w[1], n.z[0], n.z[1]);
  box_muller(w.w[2], w.w[3], n.z[2], n.z[3]);
  return n;
}

ZO2_HD Normal4 normal4(uint64_t seed, uint64_t group) { return normal4(philox_keys(seed), group); }

// z for one element (reference and test use; kernels take whole groups).
ZO2_HD float normal_at(uint64_t seed, uint64_t index) { return normal4(seed, index >> 2).z[index & 3]; }

}  // namespace zo2::rng
