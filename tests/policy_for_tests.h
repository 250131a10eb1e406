// A resolved policy from positional knobs, for the tests of every library (core, simulator, engine).
#pragma once
#include <cstdint>
#include <string>

#include "core/policy.h"

namespace zo2::testing {

inline Policy policy(const std::string& offload, int64_t prefetch, int64_t writeback, int64_t layers,
                     const std::string& dtype = "fp16", const std::string& wire = "", const std::string& master = "",
                     const std::string& slots = "reuse", const std::string& overlap = "on") {
  PolicyOptions o;
  o.offload = offload;
  o.prefetch = prefetch;
  o.writeback = writeback;
  o.dtype = dtype;
  o.wire = wire;
  o.master = master;
  o.slots = slots;
  o.overlap = overlap;
  return resolve_policy(o, layers);
}

}  // namespace zo2::testing
