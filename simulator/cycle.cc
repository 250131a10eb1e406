// The write-back cycle: which of its steps are simulated event by event and which follow from their replay counts
// (the structure is described in simulator.h, above CycleOptions).
#include <algorithm>
#include <limits>
#include <stdexcept>

#include <fmt/format.h>

#include "simulator/cost_model.h"
#include "simulator/simulator.h"

namespace zo2::sim {

// The duration of a replay op of the closed-form range at any count, and S(t): the sum of the replay durations of
// the step at cycle position t (block l replays t + l updates). The cost of a replay depends on its count only
// (every offloaded block has the same size), so one op stands for all of them.
struct ReplayDurations {
  ReplayDurations(const HardwareProfile& p, const Plan& representative, const Op& replay)
      : profile(p), plan(representative), op(replay), cost(profile, plan), counts(plan) {
    op.name.clear();
    op.deps.clear();
    op.prev_deps.clear();
  }
  TimeNs at(int64_t updates) const {
    Op o = op;
    counts.set(o, updates);
    return to_ns(cost.seconds(o));
  }
  TimeNs sum(int64_t t) const {
    TimeNs s = 0;
    for (const auto& [a, b] : runs)
      for (int64_t l = a; l <= b; ++l) s += at(t + l);
    return s;
  }
  // S(t + 1) from S(t): each run of consecutive offloaded blocks a..b loses block a's count t + a and gains t + b + 1.
  TimeNs next(TimeNs s, int64_t t) const {
    for (const auto& [a, b] : runs) s += at(t + 1 + b) - at(t + a);
    return s;
  }

  HardwareProfile profile;  // the cost model reads these two, so they live (and stay put) here
  Plan plan;
  Op op;
  CostModel cost;
  ReplayCounts counts;
  std::vector<std::pair<int64_t, int64_t>> runs;  // the offloaded blocks as runs of consecutive layers
};

namespace {

Plan pageable(Plan plan, bool on) {
  if (on)
    for (auto& op : plan.ops) op.pinned = false;
  return plan;
}

// The plans of the cycle's positions: step first + t; with --prefetch-next each continues the plan of the step
// before it (built fresh: a continued plan reads only its previous plan's ops' names and slots).
class CyclePlans {
 public:
  CyclePlans(const ModelShape& shape, const Policy& policy, int64_t batch, int64_t seq, const HardwareProfile& profile,
             const CycleOptions& options, int64_t first)
      : shape_(shape), policy_(policy), batch_(batch), seq_(seq), profile_(profile), options_(options), first_(first),
        chain_(policy.prefetch_next && policy.offloaded_count() > 0) {}

  Plan at(int64_t t) const {
    const int64_t step = first_ + t;
    if (!chain_ || step == 0) return pageable(build_plan(shape_, policy_, batch_, seq_, step, options_.memory_model),
                                              options_.pageable);
    const Plan before = build_plan(shape_, policy_, batch_, seq_, step - 1, options_.memory_model);
    return pageable(build_plan(shape_, policy_, batch_, seq_, step, options_.memory_model, &before), options_.pageable);
  }
  // A chained step starts once every op of the step before has finished (simulate_chain), so it takes what its plan
  // takes alone.
  SimResult simulate_plan(const Plan& plan) const { return simulate(plan, profile_); }

 private:
  const ModelShape& shape_;
  const Policy& policy_;
  int64_t batch_, seq_;
  const HardwareProfile& profile_;
  const CycleOptions& options_;
  int64_t first_;
  bool chain_;
};

// Steps first .. first + count - 1 (--first-step, --steps), each simulated event by event; with --prefetch-next as
// a chain from the step before the first (earlier steps cannot change them: each starts on a finished machine).
CycleResult simulate_steps(const ModelShape& shape, const Policy& policy, int64_t batch, int64_t seq,
                           const HardwareProfile& profile, const CycleOptions& options) {
  if (options.step_count > kMaxEventSteps)
    throw std::invalid_argument(fmt::format(
        "--steps {}: expected at most {} steps (each is simulated event by event); without --steps zo2 simulate "
        "gives the whole write-back cycle at any --writeback",
        options.step_count, kMaxEventSteps));
  if (options.first_step < 0)
    throw std::invalid_argument(fmt::format("--first-step {}: expected an integer >= 0", options.first_step));
  CycleResult c;
  const int64_t count = options.step_count;
  if (policy.prefetch_next && policy.offloaded_count() > 0) {
    const int64_t from = std::max<int64_t>(0, options.first_step - 1);
    std::vector<Plan> plans = build_plan_sequence(shape, policy, batch, seq, from, options.first_step + count - from,
                                                  options.memory_model);
    for (auto& plan : plans) plan = pageable(std::move(plan), options.pageable);
    std::vector<SimResult> results = simulate_chain(plans, profile);
    const size_t skip = size_t(options.first_step - from);
    c.plans.assign(std::make_move_iterator(plans.begin() + long(skip)), std::make_move_iterator(plans.end()));
    c.steps.assign(std::make_move_iterator(results.begin() + long(skip)), std::make_move_iterator(results.end()));
  } else {
    for (int64_t s = options.first_step; s < options.first_step + count; ++s) {
      c.plans.push_back(pageable(build_plan(shape, policy, batch, seq, s, options.memory_model), options.pageable));
      c.steps.push_back(simulate(c.plans.back(), profile));
    }
  }
  for (int64_t t = 0; t < count; ++t) c.position.push_back(t);
  c.length = count;
  return c;
}

}  // namespace

CycleResult simulate_cycle(const ModelShape& shape, const Policy& policy, int64_t batch, int64_t seq,
                           const HardwareProfile& profile, const CycleOptions& options) {
  if (options.step_count > 0) return simulate_steps(shape, policy, batch, seq, profile, options);
  const int64_t K = policy.gpu_writes_back() && policy.offloaded_count() > 0 ? policy.writeback : 1;
  if (K > kMaxCycleSteps)
    throw std::invalid_argument(fmt::format(
        "--writeback {}: the write-back cycle has {} steps, and zo2 simulate sums at most {} (each of its steps "
        "replays up to {} updates per block); expected --writeback <= {}",
        K, K, kMaxCycleSteps, K - 1, kMaxCycleSteps));
  const bool chain = policy.prefetch_next && policy.offloaded_count() > 0;
  // Steps K..2K-1 by default (the first steps replay fewer updates); a chain's first multiple of K after its start.
  const int64_t first = chain ? std::max<int64_t>(1, (kChainSettleSteps + K - 1) / K) * K : K;
  const CyclePlans plans(shape, policy, batch, seq, profile, options, first);
  CycleResult c;
  c.length = K;
  auto simulate_at = [&](int64_t t) {
    c.plans.push_back(plans.at(t));
    c.steps.push_back(plans.simulate_plan(c.plans.back()));
    c.position.push_back(t);
  };

  std::vector<int64_t> offloaded;
  for (int64_t l = 0; l < int64_t(policy.offload.size()); ++l)
    if (policy.offload[size_t(l)]) offloaded.push_back(l);
  // The positions whose plans differ only in their replay counts: every offloaded block replays (t + l > 0), none is
  // copied back (t + l != K - 1) and no count wraps round K.
  const int64_t lo = offloaded.empty() ? 0 : (offloaded.front() == 0 ? 1 : 0);
  const int64_t hi = offloaded.empty() ? -1 : K - 2 - offloaded.back();
  auto simulate_all = [&] {
    if (K > kMaxEventSteps)
      throw std::invalid_argument(fmt::format(
          "--writeback {}: the write-back cycle's steps cannot be summed from their replay counts on this profile "
          "(no path through every replay dominates), and simulating its {} steps one by one is refused above {}; "
          "expected a smaller --writeback",
          K, K, kMaxEventSteps));
    for (int64_t t = 0; t < K; ++t) simulate_at(t);
    return c;
  };
  if (hi - lo + 1 < 3) return simulate_all();

  const Plan rep = plans.at(hi);
  const SimResult rep_result = plans.simulate_plan(rep);
  const Op* replay = nullptr;
  int64_t replays = 0;
  TimeNs others = 0;  // every other op's duration: no path's other ops can take longer
  for (size_t i = 0; i < rep.ops.size(); ++i) {
    const Op& op = rep.ops[i];
    if (op.kind == OpKind::download || op.kind == OpKind::host_update)
      throw std::logic_error(fmt::format("simulate: step {} was expected to copy nothing back but has '{}'", rep.step,
                                         op.name));
    if (op.kind != OpKind::replay) {
      others += rep_result.timeline[i].end - rep_result.timeline[i].start;
      continue;
    }
    if (!replay) replay = &op;
    ++replays;
  }
  if (!replay || replays != int64_t(offloaded.size())) return simulate_all();
  auto durations = std::make_shared<ReplayDurations>(profile, rep, *replay);
  for (size_t k = 0; k < offloaded.size(); ++k) {
    if (k == 0 || offloaded[k] != offloaded[k - 1] + 1) durations->runs.push_back({offloaded[k], offloaded[k]});
    else durations->runs.back().second = offloaded[k];
  }
  for (size_t i = 0; i < rep.ops.size(); ++i) {  // the one-op-stands-for-all premise, checked on the plan itself
    const Op& op = rep.ops[i];
    if (op.kind == OpKind::replay &&
        (op.updates != hi + op.layer || durations->at(op.updates) != rep_result.timeline[i].end - rep_result.timeline[i].start))
      throw std::logic_error(fmt::format("simulate: '{}' of step {} does not take the replay duration of its {} updates",
                                         op.name, rep.step, op.updates));
  }

  // A: the longest path through every replay, its other ops' time. With every replay longer than all other ops
  // together, a path that misses one is shorter than any that does not, so the makespan is n R + A.
  TimeNs A = 0;
  int64_t t0 = lo;  // the first position whose makespan is S(t) + A
  const TimeNs s_hi = durations->sum(hi);
  if (durations->at(lo + offloaded.front()) == durations->at(hi + offloaded.back())) {
    A = rep_result.makespan_ns - s_hi;  // every step of the range has the same durations: the same makespan
  } else {
    int64_t R = hi + offloaded.back();
    while (durations->at(R) <= others && R < (int64_t(1) << 28)) R *= 2;  // an op counts its kernels in an int
    const TimeNs dR = durations->at(R);
    constexpr TimeNs kLimit = std::numeric_limits<TimeNs>::max() / 4;
    if (dR <= others || dR > kLimit / (replays + 1)) return simulate_all();
    Plan inflated = rep;
    for (auto& op : inflated.ops)
      if (op.kind == OpKind::replay) durations->counts.set(op, R);
    A = plans.simulate_plan(inflated).makespan_ns - replays * dR;
    auto saturated = [&](int64_t t) {
      if (t == hi) return rep_result.makespan_ns == s_hi + A;
      return plans.simulate_plan(plans.at(t)).makespan_ns == durations->sum(t) + A;
    };
    if (!saturated(hi)) return simulate_all();
    // Saturation holds from t0 on (simulator.h): find t0 by bisection.
    int64_t a = lo, b = hi;
    while (a < b) {
      const int64_t mid = a + (b - a) / 2;
      if (saturated(mid)) b = mid;
      else a = mid + 1;
    }
    t0 = a;
    if (t0 - lo > kMaxEventSteps)
      throw std::invalid_argument(fmt::format(
          "--writeback {}: {} steps of the write-back cycle must be simulated one by one before its replays dominate "
          "the step, more than the {} allowed; expected a smaller --writeback",
          K, t0 - lo, kMaxEventSteps));
  }
  for (int64_t t = 0; t < t0; ++t) simulate_at(t);
  CycleResult::ClosedRange range;
  range.first = t0;
  range.last = hi;
  range.plan = rep;
  range.totals = rep_result;
  range.totals.timeline.clear();
  range.makespan_base = A;
  range.gpu_busy_base = rep_result.gpu_busy_ns - s_hi;
  range.replays = std::move(durations);
  c.closed = std::move(range);
  for (int64_t t = hi + 1; t < K; ++t) simulate_at(t);
  return c;
}

int64_t CycleResult::cycle_steps() const { return length; }

void CycleResult::for_each_step(const std::function<void(const SimResult&, const Plan&)>& f) const {
  size_t i = 0;
  auto simulated_before = [&](int64_t end) {
    for (; i < steps.size() && position[i] < end; ++i) f(steps[i], plans[i]);
  };
  if (closed) {
    simulated_before(closed->first);
    SimResult r = closed->totals;
    TimeNs s = closed->replays->sum(closed->first);
    for (int64_t t = closed->first; t <= closed->last; ++t) {
      r.makespan_ns = closed->makespan_base + s;
      r.gpu_busy_ns = closed->gpu_busy_base + s;
      f(r, closed->plan);
      if (t < closed->last) s = closed->replays->next(s, t);
    }
  }
  simulated_before(std::numeric_limits<int64_t>::max());
}

double CycleResult::mean_step_seconds() const {
  double s = 0;
  for_each_step([&](const SimResult& r, const Plan&) { s += r.seconds(); });
  return length == 0 ? 0 : s / double(length);
}

// The closed range's makespans grow with t: its extremes are those of its ends.
double CycleResult::min_step_seconds() const {
  if (length == 0) return 0;
  TimeNs m = closed ? closed->makespan_base + closed->replays->sum(closed->first) : std::numeric_limits<TimeNs>::max();
  for (const auto& r : steps) m = std::min(m, r.makespan_ns);
  return double(m) * 1e-9;
}

double CycleResult::max_step_seconds() const {
  TimeNs m = closed ? closed->makespan_base + closed->replays->sum(closed->last) : 0;
  for (const auto& r : steps) m = std::max(m, r.makespan_ns);
  return double(m) * 1e-9;
}

double CycleResult::median_step_seconds() const {
  if (length == 0) return 0;
  std::vector<TimeNs> v;
  for (const auto& r : steps) v.push_back(r.makespan_ns);
  std::sort(v.begin(), v.end());
  // The k-th smallest makespan (from 0) of the simulated steps and the closed range, whose makespans grow with t.
  auto kth = [&](int64_t k) -> TimeNs {
    if (!closed) return v[size_t(k)];
    const ClosedRange& r = *closed;
    auto at = [&](int64_t t) { return r.makespan_base + r.replays->sum(t); };
    auto count_le = [&](TimeNs x) {
      int64_t a = r.first, b = r.last + 1;  // the first t whose makespan exceeds x
      while (a < b) {
        const int64_t mid = a + (b - a) / 2;
        if (at(mid) <= x) a = mid + 1;
        else b = mid;
      }
      return (a - r.first) + int64_t(std::upper_bound(v.begin(), v.end(), x) - v.begin());
    };
    TimeNs lo = std::min(at(r.first), v.empty() ? at(r.first) : v.front());
    TimeNs hi = std::max(at(r.last), v.empty() ? at(r.last) : v.back());
    while (lo < hi) {
      const TimeNs mid = lo + (hi - lo) / 2;
      if (count_le(mid) >= k + 1) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  };
  auto sec = [](TimeNs ns) { return double(ns) * 1e-9; };
  const int64_t h = length / 2;
  return length % 2 ? sec(kth(h)) : 0.5 * (sec(kth(h - 1)) + sec(kth(h)));
}

}  // namespace zo2::sim
