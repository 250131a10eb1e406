// Bandwidth sharing between the link's two directions, settled at every start and stop.
#include "simulator/link.h"

#include <cmath>

namespace zo2::sim {

void Link::settle(TimeNs now) {
  const TimeNs dt = now - last_;
  if (dt > 0) {
    for (auto& d : d_)
      if (d.active) d.remaining = std::max(0.0, d.remaining - d.rate * double(dt) * 1e-9);
    if (d_[0].active && d_[1].active) both_busy_ns_ += dt;
  }
  last_ = now;
}

void Link::rerate(TimeNs now) {
  const bool both = d_[0].active && d_[1].active;
  for (auto& d : d_) {
    if (!d.active) continue;
    d.rate = d.one_way * (both ? factor_ : 1.0);
    d.finish = now + TimeNs(std::llround(d.remaining / d.rate * 1e9));
    ++d.generation;
  }
}

void Link::start(int dir, int op, double bytes, double one_way_rate, TimeNs now) {
  settle(now);
  Dir& d = d_[dir];
  d.active = true;
  d.op = op;
  d.remaining = bytes;
  d.one_way = one_way_rate;
  rerate(now);
}

void Link::finish(int dir, TimeNs now) {
  settle(now);
  d_[dir].active = false;
  d_[dir].op = -1;
  d_[dir].remaining = 0;
  rerate(now);
}

}  // namespace zo2::sim
