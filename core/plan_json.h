// A plan as JSON and as a text table: for `zo2 plan`, for engine tests that read a plan, and for edited plans.
#pragma once
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "core/plan.h"

namespace zo2 {

nlohmann::json plan_to_json(const Plan& plan);
// Reads what plan_to_json wrote (possibly edited: ops reordered, deps dropped or added). Errors name `where` and the
// field. The memory prediction is read as written, not recomputed.
Plan plan_from_json(const nlohmann::json& j, const std::string& where);
// One line per op (index, name, queue, slot, bytes, FLOPs, deps), then the memory terms.
std::string plan_table(const Plan& plan);

}  // namespace zo2
