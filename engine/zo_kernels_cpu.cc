// The fused ZO pass as a CPU loop (the reference executor's kernel), parallel over groups of four elements.
#include <ATen/Parallel.h>
#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>

#include <chrono>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>

#include "engine/zo_kernels.h"

namespace zo2 {
namespace {

template <typename T>
float load(const T* p) {
  return static_cast<float>(*p);
}

// Store of a 16-bit format: stochastic rounding of the updated value, then round-to-nearest of the perturbed one.
template <typename T>
T finish(float updated, float z_new, bool stochastic, uint32_t bits, const ZoPassCoeffs& k) {
  float t = updated;
  if (stochastic) {
    if constexpr (std::is_same_v<T, c10::Half>) {
      t = fp16_bits_to_float(fp16_round_stochastic(updated, bits));
    } else {
      t = bf16_to_float(bf16_round_stochastic(updated, bits));
    }
  }
  return T(t + k.perturb_scale * z_new);
}

template <typename T>
void run(T* slab, const std::vector<ZoSegment>& segments, const ZoPassCoeffs& k) {
  constexpr bool kHalf = !std::is_same_v<T, float>;
  const rng::PhiloxKeys perturb_keys = rng::philox_keys(k.perturb_seed), update_keys = rng::philox_keys(k.update_seed);
  for (const auto& s : segments) {
    if (s.numel == 0) continue;
    const int64_t first_group = s.global_index >> 2;
    const int64_t last_group = (s.global_index + s.numel - 1) >> 2;
    at::parallel_for(first_group, last_group + 1, 1 << 14, [&](int64_t g_begin, int64_t g_end) {
      for (int64_t g = g_begin; g < g_end; ++g) {
        const rng::Normal4 z = k.perturb_scale != 0.0f ? rng::normal4(perturb_keys, uint64_t(g)) : rng::Normal4{};
        rng::Normal4 zp{};
        rng::Words4 bits{};
        if (k.has_update) {
          zp = rng::normal4(update_keys, uint64_t(g));
          if (kHalf) bits = rng::philox_words(update_keys, uint64_t(g), rng::kStreamRounding);
        }
        for (int lane = 0; lane < 4; ++lane) {
          const int64_t i = 4 * g + lane;
          if (i < s.global_index || i >= s.global_index + s.numel) continue;
          T* p = slab + s.slab_offset + (i - s.global_index);
          const float theta = load(p);
          const float updated = k.has_update ? zo_updated_value(theta, zp.z[lane], s.decay != 0, k) : theta;
          if constexpr (kHalf) {
            *p = finish<T>(updated, z.z[lane], k.has_update, bits.w[lane], k);
          } else {
            *p = updated + k.perturb_scale * z.z[lane];
          }
        }
      }
    });
  }
}

}  // namespace

int cpu_pass_threads() {
  std::mutex mutex;
  std::set<std::thread::id> seen;
  // Enough chunks for every thread, each long enough that one thread cannot take them all before the others start.
  const int64_t chunks = 64 * int64_t(at::get_num_threads());
  at::parallel_for(0, chunks, 1, [&](int64_t begin, int64_t end) {
    for (int64_t c = begin; c < end; ++c) {
      const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(200);
      while (std::chrono::steady_clock::now() < until) {
      }
    }
    std::lock_guard<std::mutex> lock(mutex);
    seen.insert(std::this_thread::get_id());
  });
  return int(seen.size());
}

void zo_pass_cpu(void* slab, DType dtype, const std::vector<ZoSegment>& segments, const ZoPassCoeffs& k) {
  switch (dtype) {
    case DType::f32: return run(static_cast<float*>(slab), segments, k);
    case DType::f16: return run(static_cast<c10::Half*>(slab), segments, k);
    case DType::bf16: return run(static_cast<c10::BFloat16*>(slab), segments, k);
    default: throw std::invalid_argument("zo_pass_cpu: slab dtype must be fp32, fp16 or bf16");
  }
}

}  // namespace zo2
