// Discrete-event execution of a plan on a hardware profile (one public header for the simulator library).
//
// Time: an integer nanosecond clock starting at 0; events at equal times are handled in the order they were
// scheduled (FIFO), so the same plan and profile always give the same timeline.
// Execution: an op starts at the earliest time when (1) the op before it on its stream has finished (streams are in
// order), (2) every op in its deps has finished and (3) its resource is free. Streams are the CUDA executor's:
// h2d, compute, d2h, and host_update (its worker thread); the host queue's ops (alloc, free, loss) take their place
// in the compute stream's order, as the CUDA executor records them there (so free/Lxx, which depends on d2h/Lxx,
// holds the compute stream until the copy back is done). Resources: the GPU's compute engine (ZO passes, replays,
// forwards, embed, head), one copy engine per link direction (uploads, downloads; the two directions share the
// link's bandwidth, see link.h), the main host thread (alloc, free, loss) and the host worker pool (host/update).
// Among ops ready at the same instant, streams are tried in the order h2d, compute, d2h, host_update. The cost of
// each op is in cost_model.h.
// Memory: peak GPU bytes = the plan's prediction (core/plan_memory.h), the caching allocator's peak in the host's
// program order (--slots alloc buffers from alloc/Lxx to free/Lxx included). Host bytes = the plan's host terms.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "core/plan.h"
#include "simulator/event_queue.h"
#include "simulator/profile.h"

namespace zo2::sim {

struct OpTiming {
  TimeNs start = -1, end = -1;
};

struct SimResult {
  TimeNs makespan_ns = 0;             // the step: from 0 to the end of its last op (in a chain: see simulate_chain)
  std::vector<OpTiming> timeline;     // per op of the plan, same indices, from the step's start
  int64_t h2d_bytes = 0, d2h_bytes = 0;
  TimeNs h2d_busy_ns = 0, d2h_busy_ns = 0, link_both_busy_ns = 0;
  TimeNs gpu_busy_ns = 0, host_busy_ns = 0, host_update_busy_ns = 0;
  int64_t peak_gpu_bytes = 0, peak_host_bytes = 0;
  double seconds() const { return double(makespan_ns) * 1e-9; }
};

// Runs one plan from an idle machine. Throws std::logic_error when the plan cannot finish (a dependency cycle with
// queue order), naming the ops that wait.
SimResult simulate(const Plan& plan, const HardwareProfile& profile);

// Plans that continue one another (--prefetch-next; core/plan.h) on one timeline: step k's ops wait for their
// prev_deps, the streams run on from step to step, and step k starts once every op of step k-1 has finished (zo2
// train synchronizes the device after every step, the peer's timing rule). Step k lasts from the end of step k-1 (0
// for the first) to the end of its own last op, its early uploads included: the steady-state step of a long run.
// Its timeline counts from that start; bytes are its plan's copies; busy times are those within its window. Throws
// std::logic_error like simulate().
std::vector<SimResult> simulate_chain(const std::vector<Plan>& plans, const HardwareProfile& profile);

// The steps a chain of plans takes to settle: the first step fills the pipeline itself, and the lag of the link
// behind the GPU can take a dozen steps to reach its steady value (a few tenths of a percent of a step).
constexpr int64_t kChainSettleSteps = 16;

// A steady-state cycle of steps: with --writeback K (and the GPU writing back) the plans of steps 0..K-1 differ
// (which blocks are copied back, how many updates replay), so the cycle has K steps; otherwise one. Each step starts
// on an idle machine; with --prefetch-next the steps run as a chain (simulate_chain), as a run's do, and since a
// chained step starts once the step before has finished, it takes what its plan takes alone. The cycle measured by
// default starts at a multiple of K (from kChainSettleSteps on with --prefetch-next), so its step t replays
// (t + l) mod K updates at block l.
//
// The cycle's structure (cycle.cc): a step that copies no block back and replays t + l updates at every offloaded
// block l (no count wraps round K) has the same ops as every other such step, only its replay counts differ, and
// without copies back nothing shares the link, so its makespan is the longest path through the plan with each
// op's own duration. Once t is large enough that a path through every replay is the longest, it stays so for every
// larger t (replay durations grow with their count), and the makespan is S(t) + A: S(t) the sum of the replay
// durations, A a constant (the longest such path's other ops). Those steps are computed from S(t); every other step
// (at most one per offloaded block, the copies back, plus the few before that saturation) is simulated event by
// event. The result is exactly the step-by-step simulation's (tests/simulator/test_cycle.cc) and answers in
// milliseconds for any K up to kMaxCycleSteps.
struct CycleOptions {
  bool pageable = false;      // host slabs in pageable memory: every copy uses the pageable rate tables
  MemoryModel memory_model;
  int64_t first_step = 0;     // with step_count > 0: simulate steps first_step .. first_step + step_count - 1
                              // (each event by event; with --prefetch-next each continues the plan before it)
  int64_t step_count = 0;     // 0: one steady-state write-back cycle
};

// The longest cycle simulate_cycle sums step by step (its cost grows by a few nanoseconds per step), and the most
// steps it simulates event by event when asked for them (--steps; each costs about as much as its plan's ops).
constexpr int64_t kMaxCycleSteps = 10'000'000;
constexpr int64_t kMaxEventSteps = 20'000;

// The replay durations of a closed-form range of a cycle (cycle.cc).
struct ReplayDurations;

struct CycleResult {
  std::vector<Plan> plans;        // the steps simulated event by event, in step order
  std::vector<SimResult> steps;   // their results, same indices
  std::vector<int64_t> position;  // their places in the cycle (0 .. cycle_steps() - 1)

  int64_t length = 0;             // steps in the cycle

  // The steps computed from their replay durations: positions first .. last of the cycle, each as `totals` (its
  // makespan and GPU busy time the bases plus S(t), the other terms as they are); `plan` is the simulated plan of
  // position last (the range's plans have its ops and memory, with other replay counts).
  struct ClosedRange {
    int64_t first = 0, last = -1;
    Plan plan;
    TimeNs makespan_base = 0, gpu_busy_base = 0;
    SimResult totals;  // without a timeline
    std::shared_ptr<const ReplayDurations> replays;
  };
  std::optional<ClosedRange> closed;

  int64_t cycle_steps() const;
  // Every step of the cycle in order: its result (without a timeline for a closed-form step) and its plan (for a
  // closed-form step, the range's simulated plan: the same ops and memory, other replay counts).
  void for_each_step(const std::function<void(const SimResult&, const Plan&)>& f) const;
  double mean_step_seconds() const;
  double min_step_seconds() const;
  double median_step_seconds() const;
  double max_step_seconds() const;
};
CycleResult simulate_cycle(const ModelShape& shape, const Policy& policy, int64_t batch, int64_t seq,
                           const HardwareProfile& profile, const CycleOptions& options = {});

}  // namespace zo2::sim
