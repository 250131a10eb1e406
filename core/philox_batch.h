// Philox4x32-10 words of many consecutive counters at once, for the CPU loops (the host's ZO pass): the same words
// as rng::philox_words (core/philox.h), computed lane-parallel so the compiler vectorises the 32x32->64 multiplies.
#pragma once
#include <cstdint>

#include "core/philox.h"

namespace zo2::rng {

// words[4 * j + k] = philox_words(keys, first_group + j, stream).w[k] for j < groups.
void philox_words_batch(const PhiloxKeys& keys, uint64_t first_group, int64_t groups, uint32_t stream,
                        uint32_t* words);

}  // namespace zo2::rng
