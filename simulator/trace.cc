// Chrome trace events ("X" complete events in microseconds, thread names per queue).
#include "simulator/trace.h"

#include <nlohmann/json.hpp>

namespace zo2::sim {

nlohmann::json chrome_trace(const CycleResult& cycle) {
  using nlohmann::json;
  json events = json::array();
  events.push_back({{"name", "process_name"}, {"ph", "M"}, {"pid", 0}, {"args", {{"name", "zo2 simulate"}}}});
  for (int q = 0; q < kQueueCount; ++q) {
    events.push_back({{"name", "thread_name"}, {"ph", "M"}, {"pid", 0}, {"tid", q},
                      {"args", {{"name", std::string(queue_name(Queue(q)))}}}});
    events.push_back({{"name", "thread_sort_index"}, {"ph", "M"}, {"pid", 0}, {"tid", q}, {"args", {{"sort_index", q}}}});
  }
  // Every step of the cycle takes its place in time; the steps simulated event by event show their ops (a long
  // cycle computes most of its steps from their replay counts: simulator.h).
  TimeNs offset = 0;
  cycle.for_each_step([&](const SimResult& r, const Plan& plan) {
    for (size_t i = 0; i < r.timeline.size(); ++i) {
      const Op& op = plan.ops[i];
      const OpTiming& t = r.timeline[i];
      json args = {{"step", plan.step}, {"kind", std::string(op_kind_name(op.kind))}};
      if (op.layer >= 0) args["layer"] = op.layer;
      if (op.slot >= 0) args["slot"] = op.slot;
      if (op.link_bytes > 0) args["bytes"] = op.link_bytes;
      if (op.flops > 0) args["flops"] = op.flops;
      events.push_back({{"name", op.name},
                        {"cat", std::string(op_kind_name(op.kind))},
                        {"ph", "X"},
                        {"pid", 0},
                        {"tid", int(op.queue)},
                        {"ts", double(offset + t.start) * 1e-3},
                        {"dur", double(t.end - t.start) * 1e-3},
                        {"args", args}});
    }
    offset += r.makespan_ns;
  });
  return json{{"traceEvents", events}, {"displayTimeUnit", "ms"}};
}

}  // namespace zo2::sim
