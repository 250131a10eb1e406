// MeZO hyper-parameters and the state carried between steps (the pending update).
#pragma once
#include <cstdint>

namespace zo2 {

struct ZoHyper {
  float lr = 1e-6f;
  float eps = 1e-3f;
  float weight_decay = 0.0f;
  uint64_t seed = 0;  // run seed; step seeds are rng::step_seed(seed, step)
};

// The update of the last step, applied lazily inside the next step's first pass (or flushed).
struct PendingUpdate {
  bool active = false;
  uint64_t seed = 0;
  float projected_grad = 0.0f;
};

// g = (loss+ - loss-) / (2 eps), in double (the engine stores it as float for the update).
inline double projected_gradient(double loss_plus, double loss_minus, float eps) {
  return (loss_plus - loss_minus) / (2.0 * double(eps));
}

struct StepResult {
  int64_t step = 0;
  double loss_plus = 0, loss_minus = 0;
  double projected_grad = 0;
  double loss() const { return 0.5 * (loss_plus + loss_minus); }
};

}  // namespace zo2
