// libFuzzer target: a simulator hardware profile (simulator/profiles/*.json), then the lookups the cost model makes
// and the profile written back out.
#include <nlohmann/json.hpp>
#include <vector>

#include "core/json_file.h"
#include "core/model_shape.h"
#include "fuzz/fuzz_input.h"
#include "simulator/profile.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return zo2::fuzz::expect_clean([&] {
    const auto p = zo2::sim::parse_profile(zo2::parse_json_text(zo2::fuzz::text(data, size), "profile.json"),
                                           "profile.json");
    volatile double sink = p.concurrent_factor();
    for (double bytes : {0.0, 1.0, 4096.0, 1e6, 1e9, 1e12}) {
      sink = sink + p.h2d_pinned.at(bytes) + p.d2h_pinned.at(bytes) + p.h2d_pageable.at(bytes) +
             p.d2h_pageable.at(bytes) + p.malloc_free_seconds.at(bytes);
    }
    // The cost model's lookups, for every preset's shape (a record's family and head layout decide its match).
    static const auto presets = [] {
      std::vector<zo2::ModelShape> shapes;
      for (const auto& name : zo2::model_preset_names()) shapes.push_back(zo2::model_preset(name));
      return shapes;
    }();
    for (const auto& b : p.block_timings) {
      sink = sink + b.isolated_block_seconds();
      for (const auto& shape : presets) sink = sink + (p.find_block_timing(shape, b.dtype, b.batch, b.seq) ? 1 : 0);
    }
    for (const auto& m : p.model_timings)
      for (const auto& shape : presets) sink = sink + (p.find_model_timing(shape, m.dtype, m.batch, m.seq) ? 1 : 0);
    zo2::sim::parse_profile(zo2::sim::profile_to_json(p), "round trip");
  });
}
