// Named fault-injection points (ZO2_FAULT).
#include "core/fault_points.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>

namespace zo2 {

void fault_point(const char* name, const char* what) {
  const char* stall = std::getenv("ZO2_FAULT_STALL");
  if (stall && std::strcmp(stall, name) == 0) {
    std::fprintf(stderr, "zo2: stalled at %s (ZO2_FAULT_STALL)\n", name);
    std::fflush(stderr);
    std::this_thread::sleep_for(std::chrono::seconds(60));
  }
  const char* armed = std::getenv("ZO2_FAULT");
  if (armed && std::strcmp(armed, name) == 0)
    throw std::runtime_error(std::string(what) + " (fault injected at " + name + ")");
}

}  // namespace zo2
