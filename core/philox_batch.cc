// Lane-parallel Philox4x32-10: tiles of kLanes counters in structure-of-arrays form, each round a loop over lanes the
// compiler turns into vector multiplies. GCC's target_clones builds AVX-512, AVX2 and baseline copies and picks one
// when the program loads, so one binary runs on the CI machine and on any GPU host at that host's best width.
#include "core/philox_batch.h"

namespace zo2::rng {
namespace {

constexpr int kLanes = 16;

#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__)
#define ZO2_VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define ZO2_VECTOR_CLONES
#endif

ZO2_VECTOR_CLONES void philox_tile(const PhiloxKeys& keys, uint64_t first_group, int lanes, uint32_t stream,
                                   uint32_t* words) {
  constexpr uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u;
  uint32_t c0[kLanes], c1[kLanes], c2[kLanes], c3[kLanes];
  for (int l = 0; l < kLanes; ++l) {
    const uint64_t group = first_group + uint64_t(l);
    c0[l] = uint32_t(group);
    c1[l] = uint32_t(group >> 32);
    c2[l] = stream;
    c3[l] = 0;
  }
  for (int round = 0; round < 10; ++round) {
    const uint32_t k0 = keys.k0[round], k1 = keys.k1[round];
    for (int l = 0; l < kLanes; ++l) {
      const uint64_t p0 = uint64_t(kM0) * c0[l], p1 = uint64_t(kM1) * c2[l];
      const uint32_t n0 = uint32_t(p1 >> 32) ^ c1[l] ^ k0, n2 = uint32_t(p0 >> 32) ^ c3[l] ^ k1;
      c1[l] = uint32_t(p1);
      c3[l] = uint32_t(p0);
      c0[l] = n0;
      c2[l] = n2;
    }
  }
  for (int l = 0; l < lanes; ++l) {
    words[4 * l] = c0[l];
    words[4 * l + 1] = c1[l];
    words[4 * l + 2] = c2[l];
    words[4 * l + 3] = c3[l];
  }
}

}  // namespace

void philox_words_batch(const PhiloxKeys& keys, uint64_t first_group, int64_t groups, uint32_t stream,
                        uint32_t* words) {
  for (int64_t j = 0; j < groups; j += kLanes) {
    const int lanes = int(groups - j < kLanes ? groups - j : kLanes);
    philox_tile(keys, first_group + uint64_t(j), lanes, stream, words + 4 * j);
  }
}

}  // namespace zo2::rng
