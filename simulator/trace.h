// Chrome-trace / Perfetto JSON of a simulated cycle: one track per queue, event names = the plan's op names (the
// engine's NVTX range names), so a simulated timeline lines up with an Nsight Systems one.
#pragma once
#include <nlohmann/json_fwd.hpp>

#include "simulator/simulator.h"

namespace zo2::sim {

// Steps of the cycle follow one another on the time axis; each event's args carry step, layer, slot and bytes.
nlohmann::json chrome_trace(const CycleResult& cycle);

}  // namespace zo2::sim
