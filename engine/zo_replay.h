// Replay of a seed log: the weights a run reached, rebuilt from its starting weights and each step's (seed, g, lr),
// without a forward pass. A fine-tuned model is its base plus a few bytes per step.
#pragma once
#include <cstdint>
#include <vector>

#include "engine/opt_model.h"

namespace zo2 {

struct LoggedStep {
  uint64_t seed = 0;          // the step's seed (rng::step_seed(run seed, step))
  float projected_grad = 0;   // g as the engine stored it (float)
  float lr = 0;
};

// Applies `steps` in order as training applied them: per step the ZO passes a resident, folded step's plan makes on
// each slab (+eps*z, -2eps*z, then the folded restore with the step's update; the resident group a plain restore
// cycle first, around the embeddings), which stores bitwise what ZO2's order (update pending into the next step's
// first pass, or a flush) and every offloaded policy store (core/zo_math.h). Every slab runs on the model's device, as the step's passes did (offloaded blocks are
// uploaded once, take every step, and are copied back); host masters below a --wire take the update alone, as the
// step's host update does. Replay on the kind of device that trained: the GPU's fused multiply-adds round otherwise
// than the CPU loop. eps and weight_decay are the run's.
void replay_logged_steps(OptModel& model, float eps, float weight_decay, const std::vector<LoggedStep>& steps);

}  // namespace zo2
