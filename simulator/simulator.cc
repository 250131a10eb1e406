// The event loop: ops start when their queue, their deps and their resource allow; copies share the link.
#include "simulator/simulator.h"

#include <algorithm>
#include <array>
#include <stdexcept>

#include <fmt/format.h>

#include "simulator/cost_model.h"
#include "simulator/link.h"

namespace zo2::sim {

namespace {

enum Resource { kGpu = 0, kLinkH2D, kLinkD2H, kHost, kHostPool, kResourceCount };
enum EventKind { kOpDone = 0, kLinkDone = 1 };

// An op's in-order lane is its stream (core/plan.h, stream_of, as the CUDA executor runs it): host-queue ops (alloc,
// free, the loss read) take their place in the compute stream's order. A host op ends after the compute ops enqueued
// before it; the compute ops enqueued after it start after it; its dependencies on the other streams make the compute
// stream wait (free/Lxx waits for d2h/Lxx, so with --slots alloc the next block's compute waits for the copy back).
// The folded restores (zo_fold, --fold-update) follow the loss in that order and list it as a dependency: they start
// after the host has read the losses, whichever resource is free first.
int stream_of(const Op& op) { return int(zo2::stream_of(op.queue)); }

Resource resource_of(OpKind k) {
  switch (k) {
    case OpKind::upload: return kLinkH2D;
    case OpKind::download: return kLinkD2H;
    case OpKind::alloc:
    case OpKind::free:
    case OpKind::loss: return kHost;
    case OpKind::host_update: return kHostPool;
    default: return kGpu;
  }
}

class Run {
 public:
  Run(const Plan& plan, const HardwareProfile& profile)
      : plan_(plan), cost_(profile, plan), link_(cost_.concurrent_factor()) {}

  SimResult go() {
    const int n = int(plan_.ops.size());
    r_.timeline.assign(size_t(n), OpTiming{});
    pending_.assign(size_t(n), 0);
    // Dependents in compressed form: one pass to count, one to fill.
    std::vector<int> count(size_t(n) + 1, 0);
    for (int i = 0; i < n; ++i) {
      const Op& op = plan_.ops[size_t(i)];
      pending_[size_t(i)] = int(op.deps.size());
      for (int d : op.deps) {
        if (d < 0 || d >= n)
          throw std::logic_error(fmt::format("simulate: op '{}' depends on op {}, which does not exist", op.name, d));
        ++count[size_t(d) + 1];
      }
      queues_[stream_of(op)].push_back(i);
    }
    for (int i = 0; i < n; ++i) count[size_t(i) + 1] += count[size_t(i)];
    dep_start_ = count;
    dependents_.assign(size_t(count[size_t(n)]), 0);
    for (int i = 0; i < n; ++i)
      for (int d : plan_.ops[size_t(i)].deps) dependents_[size_t(count[size_t(d)]++)] = i;

    // The allocator's peak follows the host's program order, not the GPU's timeline (core/plan_memory.h): the plan's
    // prediction is that peak, --slots alloc buffers included.
    r_.peak_gpu_bytes = plan_.memory.gpu_total();
    r_.peak_host_bytes = plan_.memory.host_total();

    try_start(0);
    while (!events_.empty()) {
      const Event e = events_.pop();
      now_ = e.time;
      if (e.kind == kLinkDone) {
        if (e.generation != link_.generation(e.target) || !link_.busy(e.target)) continue;  // re-rated since
        const int op = link_.op(e.target);
        link_.finish(e.target, now_);
        reschedule_link();
        complete(op);
      } else {
        complete(e.target);
      }
      try_start(now_);
    }
    if (done_ != n) {
      std::string waiting;
      for (int q = 0; q < kStreamCount; ++q)
        if (head_[q] < queues_[q].size()) {
          const int i = queues_[q][head_[q]];
          waiting += fmt::format("{}'{}' on {} (waits for {} deps)", waiting.empty() ? "" : "; ", plan_.ops[size_t(i)].name,
                                 stream_name(Stream(q)),
                                 pending_[size_t(i)]);
        }
      throw std::logic_error(fmt::format("simulate: the plan deadlocks after {} of {} ops: {}", done_, n, waiting));
    }
    r_.h2d_busy_ns = busy_[kLinkH2D];
    r_.d2h_busy_ns = busy_[kLinkD2H];
    r_.gpu_busy_ns = busy_[kGpu];
    r_.host_busy_ns = busy_[kHost];
    r_.host_update_busy_ns = busy_[kHostPool];
    r_.link_both_busy_ns = link_.both_busy_ns();
    return std::move(r_);
  }

 private:
  void try_start(TimeNs now) {
    for (int q = 0; q < kStreamCount; ++q) {
      if (queue_busy_[q] || head_[q] >= queues_[q].size()) continue;
      const int i = queues_[q][head_[q]];
      const Op& op = plan_.ops[size_t(i)];
      const Resource res = resource_of(op.kind);
      if (pending_[size_t(i)] != 0 || res_busy_[res]) continue;
      start(i, op, res, now);
    }
  }

  void start(int i, const Op& op, Resource res, TimeNs now) {
    queue_busy_[stream_of(op)] = true;
    res_busy_[res] = true;
    r_.timeline[size_t(i)].start = now;
    if (op.kind == OpKind::upload || op.kind == OpKind::download) {
      const int dir = op.kind == OpKind::upload ? kH2D : kD2H;
      (dir == kH2D ? r_.h2d_bytes : r_.d2h_bytes) += op.link_bytes;
      link_.start(dir, i, double(op.link_bytes), cost_.link_rate(op), now);
      reschedule_link();
      return;
    }
    events_.schedule(now + to_ns(cost_.seconds(op)), kOpDone, i);
  }

  void reschedule_link() {
    for (int dir = 0; dir < 2; ++dir)
      if (link_.busy(dir)) events_.schedule(link_.finish_time(dir), kLinkDone, dir, link_.generation(dir));
  }

  void complete(int i) {
    const Op& op = plan_.ops[size_t(i)];
    OpTiming& t = r_.timeline[size_t(i)];
    t.end = now_;
    r_.makespan_ns = std::max(r_.makespan_ns, now_);
    const Resource res = resource_of(op.kind);
    busy_[res] += t.end - t.start;
    res_busy_[res] = false;
    queue_busy_[stream_of(op)] = false;
    ++head_[stream_of(op)];
    ++done_;
    for (int k = dep_start_[size_t(i)] - 0; k < dep_start_[size_t(i) + 1]; ++k) --pending_[size_t(dependents_[size_t(k)])];
  }

  const Plan& plan_;
  CostModel cost_;
  Link link_;
  EventQueue events_;
  SimResult r_;
  TimeNs now_ = 0;
  std::vector<int> pending_, dep_start_, dependents_;
  std::vector<int> queues_[kStreamCount];
  size_t head_[kStreamCount] = {};
  bool queue_busy_[kStreamCount] = {};
  bool res_busy_[kResourceCount] = {};
  TimeNs busy_[kResourceCount] = {};
  int done_ = 0;
};

}  // namespace

SimResult simulate(const Plan& plan, const HardwareProfile& profile) { return Run(plan, profile).go(); }

namespace {

// Time within [t0, t1] covered by both sets of intervals; each set is disjoint (one copy at a time per direction).
TimeNs overlap_within(std::vector<OpTiming> a, std::vector<OpTiming> b, TimeNs t0, TimeNs t1) {
  auto by_start = [](const OpTiming& x, const OpTiming& y) { return x.start < y.start; };
  std::sort(a.begin(), a.end(), by_start);
  std::sort(b.begin(), b.end(), by_start);
  TimeNs total = 0;
  for (size_t i = 0, j = 0; i < a.size() && j < b.size();) {
    const TimeNs lo = std::max({a[i].start, b[j].start, t0}), hi = std::min({a[i].end, b[j].end, t1});
    if (hi > lo) total += hi - lo;
    (a[i].end < b[j].end ? i : j)++;
  }
  return total;
}

}  // namespace

std::vector<SimResult> simulate_chain(const std::vector<Plan>& plans, const HardwareProfile& profile) {
  if (plans.empty()) return {};
  // Every step's ops in one plan, in the host's enqueue order. Step k's prev_deps become deps on step k-1's ops. `zo2
  // train` ends every step with a device synchronize (the peer's timing rule), so step k starts once every op of step
  // k-1 has finished: its first op on each stream waits for every stream's last op of the step before (a step that
  // does not continue is ordered the same way by the CUDA executor), and a step ends when all its ops have, the next
  // step's early uploads (--prefetch-next) included.
  Plan all = plans.front();
  all.ops.clear();
  std::vector<int> offset(plans.size());
  std::array<int, kStreamCount> tail;  // last op of each stream of the step before
  tail.fill(-1);
  for (size_t k = 0; k < plans.size(); ++k) {
    const Plan& p = plans[k];
    offset[k] = int(all.ops.size());
    std::array<int, kStreamCount> previous_tail = tail;
    tail.fill(-1);
    std::array<bool, kStreamCount> first{};
    first.fill(true);
    for (size_t i = 0; i < p.ops.size(); ++i) {
      Op op = p.ops[i];
      for (int& d : op.deps) d += offset[k];
      const int stream = stream_of(op);
      if (k > 0 && p.continues) {
        for (int d : op.prev_deps) {
          if (d < 0 || size_t(d) >= plans[k - 1].ops.size())
            throw std::logic_error(fmt::format("simulate: op '{}' of step {} waits for op {} of the step before, which "
                                               "has no such op", op.name, p.step, d));
          op.deps.push_back(offset[k - 1] + d);
        }
      }
      if (k > 0 && first[size_t(stream)]) {
        for (int t : previous_tail)
          if (t >= 0) op.deps.push_back(t);
      }
      op.prev_deps.clear();
      first[size_t(stream)] = false;
      tail[size_t(stream)] = int(all.ops.size());
      all.ops.push_back(std::move(op));
    }
  }
  const SimResult whole = simulate(all, profile);

  // Step k runs from the end of step k-1 to the end of its own last op; busy times are those within that window.
  std::vector<SimResult> out(plans.size());
  std::vector<OpTiming> h2d, d2h;
  for (size_t i = 0; i < all.ops.size(); ++i)
    if (all.ops[i].kind == OpKind::upload) h2d.push_back(whole.timeline[i]);
    else if (all.ops[i].kind == OpKind::download) d2h.push_back(whole.timeline[i]);
  TimeNs t0 = 0;
  for (size_t k = 0; k < plans.size(); ++k) {
    TimeNs t1 = t0;
    for (size_t i = 0; i < plans[k].ops.size(); ++i) t1 = std::max(t1, whole.timeline[size_t(offset[k]) + i].end);
    SimResult& r = out[k];
    r.makespan_ns = t1 - t0;
    for (size_t i = 0; i < plans[k].ops.size(); ++i) {
      const Op& op = plans[k].ops[i];
      const OpTiming& t = whole.timeline[size_t(offset[k]) + i];
      r.timeline.push_back({t.start - t0, t.end - t0});
      if (op.kind == OpKind::upload) r.h2d_bytes += op.link_bytes;
      if (op.kind == OpKind::download) r.d2h_bytes += op.link_bytes;
    }
    TimeNs busy[kResourceCount] = {};
    for (size_t i = 0; i < all.ops.size(); ++i) {
      const OpTiming& t = whole.timeline[i];
      busy[resource_of(all.ops[i].kind)] += std::max<TimeNs>(0, std::min(t.end, t1) - std::max(t.start, t0));
    }
    r.h2d_busy_ns = busy[kLinkH2D];
    r.d2h_busy_ns = busy[kLinkD2H];
    r.gpu_busy_ns = busy[kGpu];
    r.host_busy_ns = busy[kHost];
    r.host_update_busy_ns = busy[kHostPool];
    r.link_both_busy_ns = overlap_within(h2d, d2h, t0, t1);
    r.peak_gpu_bytes = plans[k].memory.gpu_total();
    r.peak_host_bytes = plans[k].memory.host_total();
    t0 = t1;
  }
  return out;
}

}  // namespace zo2::sim
