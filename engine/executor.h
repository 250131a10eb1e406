// Executors run a plan's ops in an order its queues and dependency edges allow, and nothing else: which op does what
// is run_op's business (step_state.h), which ops exist and in what order is the plan's.
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <vector>

#include "engine/step_state.h"

namespace zo2 {

class Executor {
 public:
  virtual ~Executor() = default;
  // Runs every op of state.plan; returns once the losses are read (later ops may still run on the GPU: the next
  // run() orders itself after them without a host wait).
  virtual void run(StepState& state) = 0;
  // Waits until everything enqueued has finished.
  virtual void synchronize() = 0;
  // Op indices in the order they were started in the last run() (the host's enqueue order for CUDA).
  const std::vector<int>& started_order() const { return started_; }

 protected:
  std::vector<int> started_;
};

// CUDA: h2d, compute and d2h streams, an event after every op, cross-queue dependencies as stream waits, NVTX ranges
// named as the ops. The host waits once per step, in the loss op.
std::unique_ptr<Executor> make_cuda_executor();

// CPU reference: one thread per queue, each op started once its dependencies are done, after a random delay drawn
// from `schedule_seed` (so interleavings vary between seeds and repeat for one seed). A slot is poisoned (NaN) when
// its block releases it, so a missing dependency corrupts results instead of passing by luck.
struct CpuExecutorOptions {
  uint64_t schedule_seed = 0;
  std::array<int, kQueueCount> min_delay_us{};  // per queue (h2d, compute, d2h, host, host_update)
  std::array<int, kQueueCount> max_delay_us{};
};
std::unique_ptr<Executor> make_cpu_executor(const CpuExecutorOptions& options);
std::unique_ptr<Executor> make_cpu_executor(uint64_t schedule_seed, int max_delay_us = 200);

}  // namespace zo2
