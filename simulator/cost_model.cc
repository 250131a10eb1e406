// Op costs from a hardware profile: measured block tables where they match, the roofline elsewhere.
#include "simulator/cost_model.h"

#include <algorithm>
#include <stdexcept>

#include <fmt/format.h>

namespace zo2::sim {

CostModel::CostModel(const HardwareProfile& profile, const Plan& plan) : p_(profile), plan_(plan) {
  const DType dt = plan.policy.dtype;
  timing_ = profile.find_block_timing(plan.shape, dt, plan.batch, plan.seq);
  model_timing_ = profile.find_model_timing(plan.shape, dt, plan.batch, plan.seq);
  if (timing_ && timing_->resident_block_seconds > 0 && timing_->isolated_block_seconds() > 0)
    resident_factor_ = timing_->resident_block_seconds / timing_->isolated_block_seconds();
  auto gemm = profile.gemm_flops_per_second.find(dt);
  auto eff = profile.forward_efficiency.find(dt);
  flops_rate_ = (gemm == profile.gemm_flops_per_second.end() ? 0.0 : gemm->second) *
                (eff == profile.forward_efficiency.end() ? 0.0 : eff->second);
  concurrent_factor_ = profile.concurrent_factor();
  // --host-threads N: the host update's independent per-element work split over N of the T threads the profile's
  // rate was measured on. More threads than measured are not extrapolated (the rate is the measured one).
  const int64_t n = plan.policy.host_threads;
  if (n > 0 && !plan.policy.gpu_writes_back()) {
    if (!(profile.host_update_threads > 0))
      throw std::invalid_argument(fmt::format(
          "--host-threads {}: profile '{}' does not record host_update_threads (the threads its "
          "host_update_elements_per_second was measured on; zo2 calibrate writes it)",
          n, profile.name));
    host_share_ = std::min(double(n), profile.host_update_threads) / profile.host_update_threads;
  }
  // --wire-codec lossless with offloaded blocks: dec/Lxx and enc/Lxx run at the GPU codec's measured rates.
  if (plan.staging_bytes > 0)
    for (const auto& [field, rate] : {std::pair{"codec_decode_bytes_per_second", profile.codec_decode_bytes_per_second},
                                      std::pair{"codec_encode_bytes_per_second", profile.codec_encode_bytes_per_second}})
      if (!(rate > 0))
        throw std::invalid_argument(fmt::format(
            "--wire-codec lossless: profile '{}' has no {} (the GPU codec's rate, which prices the plan's dec/Lxx and "
            "enc/Lxx ops; zo2 calibrate measures it)",
            profile.name, field));
}

double CostModel::roofline(const Op& op) const {
  double t = 0;
  if (op.flops > 0 && flops_rate_ > 0) t = std::max(t, op.flops / flops_rate_);
  if (op.mem_bytes > 0) t = std::max(t, double(op.mem_bytes) / p_.device_copy_bytes_per_second);
  if (op.rng_samples > 0) t = std::max(t, double(op.rng_samples) / p_.gpu_rng_samples_per_second);
  return t + op.kernels * p_.launch_overhead_seconds;
}

// A fused ZO pass streams its slab once, whatever the slab holds: the measured block pass gives the time per element
// on this card, and the resident group's passes (layer -1) take that time per element over their own elements.
double CostModel::zo_pass(const Op& op, double block_seconds) const {
  const int64_t block_params = plan_.shape.block_params();
  if (op.layer >= 0 || block_params <= 0) return block_seconds;
  return block_seconds * double(op.elements) / double(block_params);
}

double CostModel::seconds(const Op& op) const {
  const double t = unscaled_seconds(op);
  // A resident block's ops run as the resident loop was measured (back to back over the model's slabs), not as the
  // single-shot block timings were.
  const auto& offload = plan_.policy.offload;
  const bool resident_block = op.layer >= 0 && size_t(op.layer) < offload.size() && !offload[size_t(op.layer)];
  return resident_block && timing_ && op.queue == Queue::compute ? t * resident_factor_ : t;
}

double CostModel::unscaled_seconds(const Op& op) const {
  switch (op.kind) {
    case OpKind::upload:
    case OpKind::download: return 0;
    case OpKind::forward:
      // Measured tables describe a transformer block; the roofline covers everything else.
      return timing_ && op.layer >= 0 ? timing_->forward_seconds : roofline(op);
    case OpKind::zo_update:
      return timing_ && op.elements > 0 ? zo_pass(op, timing_->zo_update_seconds) : roofline(op);
    case OpKind::zo_minus:
    case OpKind::zo_restore:
    case OpKind::zo_perturb:
      return timing_ && op.elements > 0 ? zo_pass(op, timing_->zo_perturb_seconds) : roofline(op);
    case OpKind::zo_fold:
      // A profile measured before the fold has no zo_fold_seconds: the pending-update pass is an upper bound (the
      // same read-modify-write, but it regenerates two z per element where the fold regenerates one).
      if (!timing_ || op.elements <= 0) return roofline(op);
      return zo_pass(op, timing_->zo_fold_seconds > 0 ? timing_->zo_fold_seconds : timing_->zo_update_seconds);
    case OpKind::replay:  // per missed step: one update+perturb pass and two perturb passes, as the engine runs it
      return timing_ && op.layer >= 0
                 ? double(op.updates) * (timing_->zo_update_seconds + 2.0 * timing_->zo_perturb_seconds)
                 : roofline(op);
    case OpKind::embed: return model_timing_ ? model_timing_->embed_seconds : roofline(op);
    case OpKind::head: return model_timing_ ? model_timing_->head_loss_seconds : roofline(op);
    case OpKind::alloc: return p_.malloc_free_seconds.at(double(op.link_bytes));
    case OpKind::free: return 0;
    case OpKind::host_update: return double(op.elements) / (p_.host_update_elements_per_second * host_share_);
    case OpKind::loss: return p_.host_sync_seconds;
    case OpKind::decode:
      return double(op.mem_bytes) / p_.codec_decode_bytes_per_second + op.kernels * p_.launch_overhead_seconds;
    case OpKind::encode:
      return double(op.mem_bytes) / p_.codec_encode_bytes_per_second + op.kernels * p_.launch_overhead_seconds;
  }
  return 0;
}

double CostModel::link_rate(const Op& op) const {
  const double bytes = double(op.link_bytes);
  if (op.kind == OpKind::upload) return (op.pinned ? p_.h2d_pinned : p_.h2d_pageable).at(bytes);
  return (op.pinned ? p_.d2h_pinned : p_.d2h_pageable).at(bytes);
}

}  // namespace zo2::sim
