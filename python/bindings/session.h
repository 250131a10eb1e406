// What the Python module holds: a loaded model with its policy, and MeZO optimizers over it. The steps, forwards,
// checks and checkpoints are the engine's own (the calls `zo2 train` and `zo2 forward` make); this layer only keeps a
// model's weights current for whoever reads them (a forward or a save flushes the optimizer's pending update).
#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "core/policy.h"
#include "engine/opt_model.h"
#include "engine/zo_engine.h"
#include "engine/zo_hyper.h"
#include "engine/zo_replay.h"

namespace zo2::py {

class OptimizerSession;

struct ModelSession {
  std::string source;  // preset or directory
  OptModel model;
  Policy policy;
  OptimizerSession* active = nullptr;  // the optimizer whose pending updates the weights may still lack

  // Applies the active optimizer's pending update, so the weights (host copies included) are the trained ones.
  void settle();
  at::Tensor logits(const at::Tensor& input_ids);
  at::Tensor token_logprobs(const at::Tensor& input_ids);
  void save(const std::string& dir);
  void replay(float eps, float weight_decay, const std::vector<LoggedStep>& steps);
  at::Tensor on_device(const at::Tensor& ids);  // checked token ids on the model's device
};

// `policy` is the JSON of policy fields (Python's zo2.Policy); `dtype` wins when the policy names none, and a
// different one is refused. The policy's memory plan is checked against its budget before any weight is allocated.
std::shared_ptr<ModelSession> load_model(const std::string& source, const std::string& device, const std::string& dtype,
                                         const std::string& policy_json, uint64_t seed, int64_t layers);

struct StepOutcome {
  StepResult result;
  uint64_t seed = 0;
  float lr = 0;
};

class OptimizerSession {
 public:
  // Replaces (after flushing it) any optimizer already stepping this model.
  OptimizerSession(std::shared_ptr<ModelSession> model, ZoHyper hyper);
  ~OptimizerSession();
  StepOutcome step(const at::Tensor& input_ids, const std::optional<at::Tensor>& loss_mask);
  void flush();
  int64_t step_index() const { return engine_->steps_done(); }
  void set_step_index(int64_t step);
  const ZoHyper& hyper() const { return engine_->hyper(); }
  const PendingUpdate& pending() const { return engine_->pending(); }
  bool attached() const { return model_->active == this; }

 private:
  void require_attached() const;
  std::shared_ptr<ModelSession> model_;
  std::unique_ptr<ZoEngine> engine_;
  std::set<std::pair<int64_t, int64_t>> planned_;  // (B, T) whose memory plan passed the budget
};

}  // namespace zo2::py
