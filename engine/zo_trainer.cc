// The MeZO step in ZO2's layer order, and the flush of the pending update.
#include "engine/zo_trainer.h"

#include <ATen/ATen.h>

#include "engine/cuda_glue.h"
#include "engine/opt_forward.h"
#include "engine/zo_kernels.h"

namespace zo2 {

void zo_pass(ParamSlab& slab, const ZoPassCoeffs& k) {
  const auto segments = zo_segments(slab.layout);
  if (slab.flat.is_cuda()) zo_pass_cuda(slab.flat.data_ptr(), slab.layout.dtype, segments, k, current_cuda_stream());
  else zo_pass_cpu(slab.flat.data_ptr(), slab.layout.dtype, segments, k);
}

ZoPassCoeffs ZoTrainer::coeffs(float scale, bool with_update) const {
  ZoPassCoeffs k;
  k.has_update = with_update && pending_.active;
  k.update_seed = pending_.seed;
  k.lr = hyper_.lr;
  k.projected_grad = pending_.projected_grad;
  k.weight_decay = hyper_.weight_decay;
  k.perturb_seed = seed_;
  k.perturb_scale = scale;
  return k;
}

StepResult ZoTrainer::step(const at::Tensor& input_ids) {
  const ModelShape& s = model_.shape;
  const float eps = hyper_.eps;
  seed_ = rng::step_seed(hyper_.seed, uint64_t(step_));
  ParamSlab& r = model_.resident;

  // The resident group's tied embedding is used at both ends of each pass: + state for embed+ and head+, - state for
  // embed- and head-. Order: (update, +eps) embed+, (-2eps) embed-, blocks, head-, (+2eps) head+, (-eps) restore.
  zo_pass(r, coeffs(+eps, true));
  at::Tensor h_plus = opt_embed(s, r, input_ids);
  zo_pass(r, coeffs(-2 * eps, false));
  at::Tensor h_minus = opt_embed(s, r, input_ids);

  for (auto& block : model_.blocks) {
    zo_pass(block, coeffs(+eps, true));
    h_plus = opt_block(s, block, h_plus);
    zo_pass(block, coeffs(-2 * eps, false));
    h_minus = opt_block(s, block, h_minus);
    zo_pass(block, coeffs(+eps, false));
  }

  at::Tensor loss_minus = opt_causal_lm_loss(s, r, h_minus, input_ids);
  zo_pass(r, coeffs(+2 * eps, false));
  at::Tensor loss_plus = opt_causal_lm_loss(s, r, h_plus, input_ids);
  zo_pass(r, coeffs(-eps, false));

  // The one host wait of the step: both losses at once.
  at::Tensor losses = at::stack({loss_plus, loss_minus}).to(at::kDouble).cpu();
  StepResult result;
  result.step = step_;
  result.loss_plus = losses[0].item<double>();
  result.loss_minus = losses[1].item<double>();
  result.projected_grad = (result.loss_plus - result.loss_minus) / (2.0 * double(eps));

  pending_ = PendingUpdate{true, seed_, float(result.projected_grad)};
  ++step_;
  return result;
}

void ZoTrainer::flush() {
  if (!pending_.active) return;
  for (ParamSlab* slab : model_.slabs()) zo_pass(*slab, coeffs(0.0f, true));
  pending_.active = false;
}

}  // namespace zo2
