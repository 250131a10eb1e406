// The Python module's model and optimizer state over the engine's calls.
#include "python/bindings/session.h"

#include <ATen/ATen.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <stdexcept>

#include "core/philox.h"
#include "core/plan.h"
#include "engine/checkpoint.h"
#include "engine/input_check.h"
#include "engine/whole_forward.h"
#include "engine/model_source.h"
#include "engine/train_run.h"

namespace zo2::py {

std::shared_ptr<ModelSession> load_model(const std::string& source, const std::string& device_text,
                                         const std::string& dtype, const std::string& policy_json, uint64_t seed,
                                         int64_t layers) {
  nlohmann::json j = nlohmann::json::parse(policy_json);
  if (j.contains("dtype") && j["dtype"].is_string() && j["dtype"].get<std::string>() != dtype)
    throw std::invalid_argument(fmt::format("policy dtype '{}' differs from load(dtype='{}') (give one of them)",
                                            j["dtype"].get<std::string>(), dtype));
  j["dtype"] = dtype;
  const PolicyOptions options = policy_options_from_json(j, "policy");
  const ModelShape shape = model_shape_of(source, layers);
  auto s = std::make_shared<ModelSession>();
  s->source = source;
  s->policy = resolve_policy(options, shape.layers);
  const c10::Device device = parse_device(device_text, "--device");
  build_plan(shape, s->policy, 1, 2, 0);  // the budget, before anything is allocated
  s->model = load_or_init_model(source, s->policy.dtype, device, seed, s->policy.offload, layers, s->policy.master,
                                s->policy.wire);
  check_engine_policy(s->policy, s->model);
  return s;
}

void ModelSession::settle() {
  if (active) active->flush();
}

at::Tensor ModelSession::on_device(const at::Tensor& ids) {
  check_token_ids(ids, model.shape, "input_ids");
  return ids.to(model.device);
}

at::Tensor ModelSession::logits(const at::Tensor& input_ids) {
  const at::Tensor ids = on_device(input_ids);
  settle();
  return model_logits(model, ids);
}

at::Tensor ModelSession::token_logprobs(const at::Tensor& input_ids) {
  const at::Tensor ids = on_device(input_ids);
  settle();
  return model_token_logprobs(model, ids);
}

void ModelSession::save(const std::string& dir) {
  settle();
  save_opt_checkpoint(model, dir);
}

void ModelSession::replay(float eps, float weight_decay, const std::vector<LoggedStep>& steps) {
  ZoHyper h;
  h.eps = eps;
  h.weight_decay = weight_decay;
  check_zo_hyper(h);
  settle();
  replay_logged_steps(model, eps, weight_decay, steps);
}

OptimizerSession::OptimizerSession(std::shared_ptr<ModelSession> model, ZoHyper hyper) : model_(std::move(model)) {
  check_zo_hyper(hyper);
  model_->settle();  // the optimizer it replaces leaves nothing pending
  const bool on_gpu = model_->model.device.is_cuda();
  // The plan is sized for (1, 2) here; each new (B, T) a step brings is checked against the budget when it comes.
  engine_ = std::make_unique<ZoEngine>(model_->model, model_->policy, hyper, 1, 2,
                                       on_gpu ? make_cuda_executor() : make_cpu_executor(hyper.seed, 0));
  model_->active = this;
}

OptimizerSession::~OptimizerSession() {
  if (!attached()) return;
  try {
    engine_->flush();  // the weights keep every update the optimizer made
  } catch (...) {
  }
  model_->active = nullptr;
}

void OptimizerSession::require_attached() const {
  if (!attached())
    throw std::runtime_error("this zo2.MeZO was replaced by a newer optimizer on the same model (its updates were "
                             "flushed into the weights)");
}

StepOutcome OptimizerSession::step(const at::Tensor& input_ids, const std::optional<at::Tensor>& loss_mask) {
  require_attached();
  const ModelShape& shape = model_->model.shape;
  check_token_ids(input_ids, shape, "input_ids", 2);
  const std::pair<int64_t, int64_t> bt{input_ids.size(0), input_ids.size(1)};
  if (!planned_.count(bt)) {
    build_plan(shape, model_->policy, bt.first, bt.second, 0);  // refuses a shape over the memory budget
    planned_.insert(bt);
  }
  const at::Tensor ids = input_ids.to(model_->model.device);
  const at::Tensor mask = loss_mask ? checked_loss_mask(*loss_mask, ids, "loss_mask") : at::Tensor();
  StepOutcome out;
  out.result = engine_->step(ids, mask);
  out.seed = rng::step_seed(engine_->hyper().seed, uint64_t(out.result.step));
  out.lr = engine_->hyper().lr;
  return out;
}

void OptimizerSession::flush() {
  require_attached();
  engine_->flush();
}

void OptimizerSession::set_step_index(int64_t step) {
  require_attached();
  engine_->set_step(step);
}

}  // namespace zo2::py
