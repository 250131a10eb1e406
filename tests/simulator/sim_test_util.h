// Helpers for the simulator tests: a hand-made profile with round numbers and a small model shape.
#pragma once
#include <cstdlib>
#include <string>

#include "core/model_shape.h"
#include "core/policy.h"
#include "simulator/profile.h"
#include "tests/policy_for_tests.h"

namespace zo2::sim::testing {

// Every rate constant in size, no launch or sync overhead: closed forms come out exact.
inline HardwareProfile flat_profile(double link = 50e9, double concurrent_factor = 0.8) {
  HardwareProfile p;
  p.name = "flat";
  p.card = "test card";
  p.driver = "0";
  p.date = "2026-01-01";
  p.source = "tests";
  p.gpu_memory_bytes = 80'000'000'000;
  p.host_memory_bytes = 1'000'000'000'000;
  p.h2d_pinned.points = {{1e6, link}};
  p.d2h_pinned.points = {{1e6, link}};
  p.h2d_pageable.points = {{1e6, link / 3}};
  p.d2h_pageable.points = {{1e6, link / 3}};
  p.concurrent_copy_bytes = 1e9;
  p.concurrent_bytes_per_second = 2 * link * concurrent_factor;
  p.malloc_free_seconds.points = {{1e6, 150e-6}};
  for (DType dt : {DType::f16, DType::bf16, DType::f32}) {
    p.gemm_flops_per_second[dt] = dt == DType::f32 ? 50e12 : 700e12;
    p.forward_efficiency[dt] = 0.5;
  }
  p.device_copy_bytes_per_second = 3e12;
  p.gpu_rng_samples_per_second = 400e9;
  p.launch_overhead_seconds = 0;
  p.host_sync_seconds = 0;
  p.host_update_elements_per_second = 1e9;
  return p;
}

// Compute (and host work) so fast that it rounds to zero nanoseconds.
inline HardwareProfile compute_free(HardwareProfile p) {
  for (auto& [dt, r] : p.gemm_flops_per_second) r = 1e30;
  p.device_copy_bytes_per_second = 1e30;
  p.gpu_rng_samples_per_second = 1e30;
  p.host_update_elements_per_second = 1e30;
  p.launch_overhead_seconds = 0;
  p.host_sync_seconds = 0;
  return p;
}

inline ModelShape small_shape(int64_t layers = 8) {
  ModelShape s;
  s.hidden = 256;
  s.heads = 4;
  s.ffn = 1024;
  s.layers = layers;
  s.vocab_size = 128;
  s.word_embed_proj_dim = 256;
  s.max_positions = 2048;
  return s;
}

using zo2::testing::policy;  // tests/policy_for_tests.h

}  // namespace zo2::sim::testing
