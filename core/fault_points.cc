// Named fault-injection points (ZO2_FAULT).
#include "core/fault_points.h"

#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

namespace zo2 {

void fault_point(const char* name, const char* what) {
  const char* armed = std::getenv("ZO2_FAULT");
  if (armed && std::strcmp(armed, name) == 0)
    throw std::runtime_error(std::string(what) + " (fault injected at " + name + ")");
}

}  // namespace zo2
