// MeZO on a model held whole on one device (CPU or GPU), run in ZO2's layer order: each block is perturbed (+eps),
// runs the + pass, is flipped (-2eps), runs the - pass and is restored (+eps) before the next block, so the
// offloaded engine executes exactly the same arithmetic.
#pragma once
#include <ATen/core/Tensor.h>

#include "core/zo_math.h"
#include "engine/opt_model.h"
#include "engine/zo_hyper.h"

namespace zo2 {

// One fused ZO pass over a slab on its own device (CUDA: the current stream).
void zo_pass(ParamSlab& slab, const ZoPassCoeffs& k);

class ZoTrainer {
 public:
  ZoTrainer(OptModel& model, ZoHyper hyper) : model_(model), hyper_(hyper) {}

  // One MeZO step on input_ids [B, T] (int64, on the model's device): loss+, loss-, g; the update is left pending.
  StepResult step(const at::Tensor& input_ids);
  // Applies the pending update to every slab (before evaluation, saving and exit).
  void flush();
  int64_t steps_done() const { return step_; }
  const PendingUpdate& pending() const { return pending_; }

 private:
  ZoPassCoeffs coeffs(float scale, bool with_update) const;

  OptModel& model_;
  ZoHyper hyper_;
  PendingUpdate pending_;
  int64_t step_ = 0;
  uint64_t seed_ = 0;  // this step's seed while a step runs
};

}  // namespace zo2
