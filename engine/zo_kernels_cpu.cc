// The fused ZO pass as a CPU loop (the reference executor's kernel), parallel over groups of four elements.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>

#include <algorithm>
#include <chrono>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

#include "core/philox_batch.h"
#include "engine/zo_kernels.h"

namespace zo2 {
namespace {

template <typename T>
float load_value(const T* p) {
  return static_cast<float>(*p);
}

// Rounding into a 16-bit format: to nearest, and stochastically with 16 random bits (core/zo_math.h).
template <typename T>
float round_nearest(float x) {
  if constexpr (std::is_same_v<T, float>) return x;
  else return float(T(x));
}
template <typename T>
float round_stochastic(float x, uint32_t bits) {
  if constexpr (std::is_same_v<T, float>) return x;
  else if constexpr (std::is_same_v<T, c10::Half>) return fp16_bits_to_float(fp16_round_stochastic(x, bits));
  else return bf16_to_float(bf16_round_stochastic(x, bits));
}

// One element of a pass, as the CUDA kernel computes it (engine/zo_kernels.cu, apply).
template <typename T>
float pass_value(float theta, float z, float z_prev, uint32_t bits, bool decay, const ZoPassCoeffs& k) {
  if (k.fold_update) {
    const float restored = round_nearest<T>(zo_perturbed_value(theta, z, k));
    return round_stochastic<T>(zo_updated_value(restored, z, decay, k), bits);
  }
  if (!k.has_update) return round_nearest<T>(zo_perturbed_value(theta, z, k));
  const float updated = round_stochastic<T>(zo_updated_value(theta, z_prev, decay, k), bits);
  return k.perturb_scale == 0.0f ? updated : round_nearest<T>(zo_perturbed_value(updated, z, k));
}

// z of a run of groups (rng::normal4, the contract in core/philox.h) with the transcendental part vectorised: the
// Philox words and uniforms in a loop, then -2 ln u, sqrt, sin and cos as ATen ops over contiguous floats (SLEEF's
// 1-ulp kernels on x86, the same accuracy as libm). Why: libm's scalar log/sin/cos were three quarters of the host's
// time per element, and the host applies the master update when the wire is below the master (CPU-bound).
class NormalBatch {
 public:
  NormalBatch(const rng::PhiloxKeys& keys, int64_t first_group, int64_t groups) {
    // Box–Muller pair p of group j (words 2p, 2p+1) at index 2j + p.
    at::Tensor ua = at::empty({2 * groups}, at::kFloat), ub = at::empty({2 * groups}, at::kFloat);
    float* a = ua.data_ptr<float>();
    float* b = ub.data_ptr<float>();
    std::vector<uint32_t> w(size_t(4 * groups));
    rng::philox_words_batch(keys, uint64_t(first_group), groups, rng::kStreamZ, w.data());
    for (int64_t j = 0; j < groups; ++j) {
      a[2 * j] = rng::uniform_open01(w[size_t(4 * j)]);
      b[2 * j] = rng::uniform_open01(w[size_t(4 * j + 1)]);
      a[2 * j + 1] = rng::uniform_open01(w[size_t(4 * j + 2)]);
      b[2 * j + 1] = rng::uniform_open01(w[size_t(4 * j + 3)]);
    }
    radius_ = at::log(ua).mul_(-2.0f).sqrt_();
    const at::Tensor angle = ub.mul_(rng::kTwoPi);
    cos_ = at::cos(angle);
    sin_ = at::sin(angle);
    r_ = radius_.data_ptr<float>();
    c_ = cos_.data_ptr<float>();
    s_ = sin_.data_ptr<float>();
  }
  // z of element `lane` of the batch's group j: r cos for the pair's first element, r sin for its second.
  float z(int64_t j, int lane) const {
    const int64_t pair = 2 * j + (lane >> 1);
    return r_[pair] * ((lane & 1) ? s_[pair] : c_[pair]);
  }

 private:
  at::Tensor radius_, cos_, sin_;
  const float *r_ = nullptr, *c_ = nullptr, *s_ = nullptr;
};

// The grain that splits [begin, end) into at most `max_threads` chunks of at least `min_grain` (0: ATen's pool decides).
int64_t grain_for(int64_t begin, int64_t end, int64_t min_grain, int64_t max_threads) {
  if (max_threads <= 0) return min_grain;
  return std::max(min_grain, (end - begin + max_threads - 1) / max_threads);
}

template <typename T>
void run(T* slab, const std::vector<ZoSegment>& segments, const ZoPassCoeffs& k, int64_t max_threads) {
  constexpr bool kHalf = !std::is_same_v<T, float>;
  if (k.fold_update && k.has_update)
    throw std::invalid_argument("zo_pass_cpu: a folded restore applies this step's update; it has no pending one");
  const bool perturb = k.perturb_scale != 0.0f || k.fold_update;
  const bool rounds = kHalf && (k.has_update || k.fold_update);
  const rng::PhiloxKeys perturb_keys = rng::philox_keys(k.perturb_seed), update_keys = rng::philox_keys(k.update_seed);
  const rng::RoundingKeys rounding_keys = rng::rounding_keys(k.fold_update ? k.perturb_seed : k.update_seed);
  for (const auto& s : segments) {
    if (s.numel == 0) continue;
    const int64_t first_group = s.global_index >> 2;
    const int64_t last_group = (s.global_index + s.numel - 1) >> 2;
    // Each chunk of at most 4096 groups draws its normals as one batch (big enough that the ATen calls' overhead is
    // small, small enough to stay in cache). ATen ops inside parallel_for run on the calling thread.
    constexpr int64_t kBatch = 4096;
    at::parallel_for(first_group, last_group + 1, grain_for(first_group, last_group + 1, kBatch, max_threads),
                     [&](int64_t g_begin, int64_t g_end) {
      for (int64_t b_begin = g_begin; b_begin < g_end; b_begin += kBatch) {
        const int64_t b_end = std::min(g_end, b_begin + kBatch);
        const std::optional<NormalBatch> z =
            perturb ? std::optional<NormalBatch>(std::in_place, perturb_keys, b_begin, b_end - b_begin) : std::nullopt;
        const std::optional<NormalBatch> zp = k.has_update ? std::optional<NormalBatch>(
                                                                 std::in_place, update_keys, b_begin, b_end - b_begin)
                                                           : std::nullopt;
        for (int64_t g = b_begin; g < b_end; ++g) {
          const int64_t j = g - b_begin;
          const rng::Words4 bits = rounds ? rng::rounding_bits4(rounding_keys, uint64_t(g)) : rng::Words4{};
          for (int lane = 0; lane < 4; ++lane) {
            const int64_t i = 4 * g + lane;
            if (i < s.global_index || i >= s.global_index + s.numel) continue;
            T* p = slab + s.slab_offset + (i - s.global_index);
            *p = T(pass_value<T>(load_value(p), z ? z->z(j, lane) : 0.0f, zp ? zp->z(j, lane) : 0.0f, bits.w[lane],
                                 s.decay != 0, k));
          }
        }
      }
    });
  }
}

}  // namespace

int cpu_pass_threads(int64_t max_threads) {
  std::mutex mutex;
  std::set<std::thread::id> seen;
  // Enough chunks for every thread, each long enough that one thread cannot take them all before the others start;
  // split as zo_pass_cpu splits its groups under the same cap.
  const int64_t chunks = 64 * int64_t(at::get_num_threads());
  at::parallel_for(0, chunks, grain_for(0, chunks, 1, max_threads), [&](int64_t begin, int64_t end) {
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

void zo_pass_cpu(void* slab, DType dtype, const std::vector<ZoSegment>& segments, const ZoPassCoeffs& k,
                 int64_t max_threads) {
  switch (dtype) {
    case DType::f32: return run(static_cast<float*>(slab), segments, k, max_threads);
    case DType::f16: return run(static_cast<c10::Half*>(slab), segments, k, max_threads);
    case DType::bf16: return run(static_cast<c10::BFloat16*>(slab), segments, k, max_threads);
    default: throw std::invalid_argument("zo_pass_cpu: slab dtype must be fp32, fp16 or bf16");
  }
}

}  // namespace zo2
