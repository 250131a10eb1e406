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
// (which blocks are copied back, how many updates replay), so all K are simulated one after the other; otherwise one.
// Each step starts on an idle machine, except with --prefetch-next: the steps then run as a chain (simulate_chain)
// from step 0, as a run's do, and the cycle measured by default starts at the first multiple of K from
// kChainSettleSteps on.
struct CycleOptions {
  bool pageable = false;      // host slabs in pageable memory: every copy uses the pageable rate tables
  MemoryModel memory_model;
  int64_t first_step = 0;     // with step_count > 0: simulate steps first_step .. first_step + step_count - 1
                              // (with --prefetch-next the steps before them run too, unmeasured)
  int64_t step_count = 0;     // 0: one steady-state write-back cycle
};
struct CycleResult {
  std::vector<Plan> plans;
  std::vector<SimResult> steps;
  double mean_step_seconds() const;
  double min_step_seconds() const;
  double median_step_seconds() const;
  double max_step_seconds() const;
};
CycleResult simulate_cycle(const ModelShape& shape, const Policy& policy, int64_t batch, int64_t seq,
                           const HardwareProfile& profile, const CycleOptions& options = {});

}  // namespace zo2::sim
