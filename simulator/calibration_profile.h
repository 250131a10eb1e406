// zo2 calibrate's measurements -> a hardware profile (schema zo2-hardware-profile/1, simulator/README.md): every
// number with a source saying how it was measured, and the raw record under "calibration". The profile is written by
// simulator/profile.cc's profile_to_json, the one writer (and parse_profile the one reader) of the schema.
#pragma once
#include <nlohmann/json_fwd.hpp>

#include "core/calibration_measurements.h"
#include "simulator/profile.h"

namespace zo2 {

// Throws std::invalid_argument naming the measurement when one is missing or out of range.
sim::HardwareProfile profile_from_calibration(const CalibrationMeasurements& m);
// profile_to_json(profile_from_calibration(m)): what `zo2 calibrate` writes.
nlohmann::json calibration_profile_json(const CalibrationMeasurements& m);

}  // namespace zo2
