// The simulator's clock and event queue. Time is an integer count of nanoseconds from the start of the simulation;
// events at equal times run in the order they were scheduled (FIFO), so a run is deterministic.
#pragma once
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <queue>
#include <vector>

namespace zo2::sim {

using TimeNs = int64_t;

// Seconds to nanoseconds, rounded to nearest (so a zero-cost op takes zero time). A duration beyond the clock's
// range (an edited plan's or a profile's absurd numbers) is an error, not a wrapped-around time.
inline TimeNs to_ns(double seconds) {
  if (!(std::fabs(seconds) < 9e9))  // about 285 years; also NaN
    throw std::invalid_argument("an op's cost of " + std::to_string(seconds) +
                                " s is beyond the simulator's clock (about 285 years): check the plan's bytes and "
                                "FLOPs and the profile's rates");
  return TimeNs(seconds * 1e9 + 0.5);
}

struct Event {
  TimeNs time = 0;
  uint64_t order = 0;    // scheduling order: the tie-break among equal times
  int kind = 0;          // what happened (the simulator's enum)
  int target = 0;        // which op or link direction
  uint32_t generation = 0;  // lets a rescheduled event supersede an earlier one (bandwidth re-rating)
};

class EventQueue {
 public:
  void schedule(TimeNs time, int kind, int target, uint32_t generation = 0) {
    heap_.push(Event{time, next_order_++, kind, target, generation});
  }
  bool empty() const { return heap_.empty(); }
  Event pop() {
    Event e = heap_.top();
    heap_.pop();
    return e;
  }
  void clear() {
    heap_ = {};
    next_order_ = 0;
  }

 private:
  struct Later {
    bool operator()(const Event& a, const Event& b) const {
      return a.time != b.time ? a.time > b.time : a.order > b.order;
    }
  };
  std::priority_queue<Event, std::vector<Event>, Later> heap_;
  uint64_t next_order_ = 0;
};

}  // namespace zo2::sim
