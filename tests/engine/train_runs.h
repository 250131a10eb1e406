// A short ZoEngine training run from a copy of a start model, as the exactness tests compare them (offloaded and
// resident, coded and raw wires): the losses of every step, every slab after the final flush, the start order.
#pragma once
#include <ATen/ATen.h>

#include <functional>
#include <memory>
#include <vector>

#include "core/plan.h"
#include "core/policy.h"
#include "engine/executor.h"
#include "engine/opt_model.h"
#include "engine/zo_engine.h"

namespace zo2::test {

struct Run {
  std::vector<StepResult> steps;
  std::vector<at::Tensor> params;  // every slab's flat buffer after the final flush, on the CPU
  std::vector<int> started;        // the executor's start order in the last step
};

// `plans`: empty, the engine builds each step's plan; one plan, run at every step; several, plan s at step s (a chain
// of plans, --prefetch-next). `flush_after`: flush after that step too (as a checkpoint would), then `between` may
// edit the model's slabs.
inline Run train(const OptModel& start, const Policy& policy, c10::Device device, std::unique_ptr<Executor> executor,
                 const std::vector<at::Tensor>& batches, uint64_t run_seed, const std::vector<Plan>& plans = {},
                 int64_t flush_after = -1, const std::function<void(OptModel&)>& between = {}) {
  OptModel m = OptModel::allocate(start.shape, start.dtype, device, policy.offload);
  m.resident.flat.copy_(start.resident.flat);
  for (size_t l = 0; l < m.blocks.size(); ++l) m.blocks[l].flat.copy_(start.blocks[l].flat);
  ZoHyper hyper{1e-3f, 1e-2f, 0.05f, run_seed};
  ZoEngine engine(m, policy, hyper, batches[0].size(0), batches[0].size(1), std::move(executor));
  if (plans.size() == 1) engine.use_plan(plans[0]);
  Run run;
  for (size_t s = 0; s < batches.size(); ++s) {
    if (plans.size() > 1) engine.use_plan(plans.at(s));
    run.steps.push_back(engine.step(batches[s].to(device)));
    if (int64_t(s) == flush_after) {
      engine.flush();
      if (between) between(m);
    }
  }
  run.started = engine.executor().started_order();
  engine.flush();
  for (ParamSlab* slab : m.slabs()) run.params.push_back(slab->flat.cpu());
  return run;
}

}  // namespace zo2::test
