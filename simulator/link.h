// The host-GPU link: two directions, one copy engine each. A direction alone runs at its one-way rate; while both
// carry a copy, each runs at its one-way rate times the concurrent factor. Whenever a direction starts or stops,
// the bytes moved so far are settled and the other direction's finish time is recomputed (re-rating).
#pragma once
#include <cstdint>

#include "simulator/event_queue.h"

namespace zo2::sim {

enum LinkDir { kH2D = 0, kD2H = 1 };

class Link {
 public:
  explicit Link(double concurrent_factor) : factor_(concurrent_factor) {}

  bool busy(int dir) const { return d_[dir].active; }
  int op(int dir) const { return d_[dir].op; }
  // Finish time and generation of the transfer in flight; a finish event carrying an older generation is stale.
  TimeNs finish_time(int dir) const { return d_[dir].finish; }
  uint32_t generation(int dir) const { return d_[dir].generation; }
  TimeNs both_busy_ns() const { return both_busy_ns_; }

  void start(int dir, int op, double bytes, double one_way_rate, TimeNs now);
  void finish(int dir, TimeNs now);

 private:
  void settle(TimeNs now);  // subtract the bytes moved since the last change
  void rerate(TimeNs now);  // new rates and finish times for the directions in flight
  struct Dir {
    bool active = false;
    int op = -1;
    double remaining = 0, one_way = 0, rate = 0;
    TimeNs finish = 0;
    uint32_t generation = 0;
  };
  double factor_;
  Dir d_[2];
  TimeNs last_ = 0, both_busy_ns_ = 0;
};

}  // namespace zo2::sim
