// The action of each op kind: copies, fused ZO passes (with replays of older updates), forward pieces, the losses.
#include <ATen/ATen.h>
#include <fmt/format.h>

#include <stdexcept>

#include "core/fault_points.h"
#include "core/philox.h"
#include "engine/cuda_glue.h"
#include "engine/opt_forward.h"
#include "engine/step_state.h"
#include "engine/zo_kernels.h"

namespace zo2 {

void zo_pass(ParamSlab& slab, const ZoPassCoeffs& k) {
  const auto segments = zo_segments(slab.layout);
  if (slab.flat.is_cuda()) zo_pass_cuda(slab.flat.data_ptr(), slab.layout.dtype, segments, k, current_cuda_stream());
  else zo_pass_cpu(slab.flat.data_ptr(), slab.layout.dtype, segments, k);
}

at::Tensor& StepState::buffer_for(const Op& op) {
  if (op.slot >= 0) return slots.at(size_t(op.slot));
  std::lock_guard<std::mutex> lock(buffers_mu);
  auto it = allocated.find(op.layer);
  if (it == allocated.end())
    throw std::logic_error(fmt::format("op {}: block {} has no device buffer (alloc missing)", op.name, op.layer));
  return it->second;
}

ParamSlab& StepState::block(int64_t layer) {
  if (!model->offloaded[size_t(layer)]) return model->blocks[size_t(layer)];
  std::lock_guard<std::mutex> lock(buffers_mu);
  auto it = resident_views.find(layer);
  if (it == resident_views.end())
    throw std::logic_error(fmt::format("block {} is used on the device before its upload", layer));
  return it->second;
}

namespace {

ZoPassCoeffs coeffs(const StepState& st, const PendingUpdate& update, uint64_t perturb_seed, float scale) {
  ZoPassCoeffs k;
  k.has_update = update.active;
  k.update_seed = update.seed;
  k.lr = st.hyper.lr;
  k.projected_grad = update.projected_grad;
  k.weight_decay = st.hyper.weight_decay;
  k.perturb_seed = perturb_seed;
  k.perturb_scale = scale;
  return k;
}

ParamSlab& target(const Op& op, StepState& st) { return op.layer < 0 ? st.model->resident : st.block(op.layer); }

// A block that stayed on the GPU past its last copy back missed whole steps: replay each exactly as the resident run
// did it (update with +eps fused, -2eps, +eps), so the result is bitwise the resident one.
void replay(const Op& op, StepState& st) {
  ParamSlab& slab = st.block(op.layer);
  const float eps = st.hyper.eps;
  for (int64_t j = std::max(st.step - op.updates, st.replay_floor); j < st.step; ++j) {
    const PendingUpdate& prev = j > st.replay_floor ? (*st.history)[size_t(j - 1)] : PendingUpdate{};
    const uint64_t seed = (*st.history)[size_t(j)].seed;
    zo_pass(slab, coeffs(st, prev, seed, +eps));
    zo_pass(slab, coeffs(st, {}, seed, -2 * eps));
    zo_pass(slab, coeffs(st, {}, seed, +eps));
  }
}

}  // namespace

void run_op(const Op& op, StepState& st) {
  OptModel& m = *st.model;
  const float eps = st.hyper.eps;
  switch (op.kind) {
    case OpKind::alloc: {
      at::Tensor buffer = allocate_aligned(m.blocks[size_t(op.layer)].layout.elements, m.dtype, m.device,
                                           /*pinned=*/false, /*zero=*/false);
      std::lock_guard<std::mutex> lock(st.buffers_mu);
      st.allocated[op.layer] = buffer;
      return;
    }
    case OpKind::free: {
      std::lock_guard<std::mutex> lock(st.buffers_mu);
      st.resident_views.erase(op.layer);
      st.allocated.erase(op.layer);
      return;
    }
    case OpKind::upload: {
      at::Tensor& buffer = st.buffer_for(op);
      const ParamSlab& host = m.blocks[size_t(op.layer)];
      buffer.narrow(0, 0, host.layout.elements).copy_(host.flat, /*non_blocking=*/true);
      ParamSlab views = ParamSlab::over(host.layout, buffer.narrow(0, 0, host.layout.elements));
      std::lock_guard<std::mutex> lock(st.buffers_mu);
      st.resident_views[op.layer] = std::move(views);
      return;
    }
    case OpKind::download: {
      ParamSlab& host = m.blocks[size_t(op.layer)];
      host.flat.copy_(st.block(op.layer).flat, /*non_blocking=*/true);
      return;
    }
    case OpKind::replay: return replay(op, st);
    case OpKind::zo_update: return zo_pass(target(op, st), coeffs(st, st.pending, st.seed, +eps));
    case OpKind::zo_perturb: return zo_pass(target(op, st), coeffs(st, {}, st.seed, +eps));
    case OpKind::zo_minus: return zo_pass(target(op, st), coeffs(st, {}, st.seed, -2 * eps));
    case OpKind::zo_restore: return zo_pass(target(op, st), coeffs(st, {}, st.seed, +eps));
    case OpKind::embed:
      (op.pass > 0 ? st.h_plus : st.h_minus) = opt_embed(m.shape, m.resident, st.ids);
      return;
    case OpKind::forward: {
      if (st.step >= 1) fault_point("step:oom", "out of memory in the middle of a step");
      at::Tensor& h = op.pass > 0 ? st.h_plus : st.h_minus;
      h = opt_block(m.shape, st.block(op.layer), h);
      return;
    }
    case OpKind::head:
      (op.pass > 0 ? st.loss_plus : st.loss_minus) =
          opt_causal_lm_loss(m.shape, m.resident, op.pass > 0 ? st.h_plus : st.h_minus, st.ids);
      return;
    case OpKind::loss: {
      // The one host wait of the step: both losses in one copy.
      at::Tensor both = at::stack({st.loss_plus, st.loss_minus}).to(at::kDouble).cpu();
      st.loss_plus_value = both[0].item<double>();
      st.loss_minus_value = both[1].item<double>();
      return;
    }
    case OpKind::host_update:
      throw std::invalid_argument(fmt::format(
          "op {}: host-side master updates (--wire below --master) are not implemented by the engine; "
          "use --wire equal to --master",
          op.name));
  }
}

}  // namespace zo2
