// The action of each op kind: copies, fused ZO passes (with replays of older updates), forward pieces, the losses.
#include <ATen/ATen.h>
#include <fmt/format.h>

#include <stdexcept>

#include "core/fault_points.h"
#include "core/philox.h"
#include "core/wire_codec.h"
#include "engine/cuda_glue.h"
#include "engine/model_forward.h"
#include "engine/wire_codec_cuda.h"
#include "engine/wire_format.h"
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

at::Tensor& StepState::staging_for(const Op& op) {
  if (op.slot >= 0) return slot_staging.at(size_t(op.slot));
  std::lock_guard<std::mutex> lock(buffers_mu);
  auto it = allocated_staging.find(op.layer);
  if (it == allocated_staging.end())
    throw std::logic_error(fmt::format("op {}: block {} has no staging buffer (alloc missing)", op.name, op.layer));
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

// --wire-codec lossless: the blob's size as its header states it, checked against the buffer it sits in.
int64_t blob_bytes(const at::Tensor& blob) {
  return int64_t(wire_codec_header(blob.data_ptr<uint8_t>(), blob.numel()).encoded_bytes);
}

uint16_t* words(const at::Tensor& t) { return static_cast<uint16_t*>(t.data_ptr()); }

void decode_block(const Op& op, StepState& st) {
  const at::Tensor& staging = st.staging_for(op);
  at::Tensor& slot = st.buffer_for(op);
  const DType dt = st.model->dtype;
  const int64_t n = st.model->blocks[size_t(op.layer)].layout.elements;
  if (slot.is_cuda()) wire_codec_decode_cuda(staging.data_ptr(), dt, n, words(slot), current_cuda_stream());
  else wire_codec_decode(staging.data_ptr<uint8_t>(), staging.numel(), words(slot), n);
}

// The GPU encoder reads the table from the blob it overwrites; the CPU's is read from there too, so both code the
// block with the table its upload brought.
void encode_block(const Op& op, StepState& st) {
  at::Tensor& staging = st.staging_for(op);
  const at::Tensor& slot = st.block(op.layer).flat;
  const DType dt = st.model->dtype;
  const int64_t n = slot.numel();
  if (slot.is_cuda()) {
    wire_codec_encode_cuda(staging.data_ptr(), dt, words(slot), n, staging.data_ptr(), st.codec_scratch.data_ptr(),
                           current_cuda_stream());
    return;
  }
  const WireCodecTable table = wire_codec_table_of(staging.data_ptr<uint8_t>(), staging.numel());
  wire_codec_encode(table, words(slot), n, staging.data_ptr<uint8_t>(), staging.numel());
}

}  // namespace

void run_op(const Op& op, StepState& st) {
  OptModel& m = *st.model;
  const float eps = st.hyper.eps;
  switch (op.kind) {
    case OpKind::alloc: {
      const int64_t elements = m.blocks[size_t(op.layer)].layout.elements;
      at::Tensor buffer = allocate_aligned(elements, m.dtype, m.device, /*pinned=*/false, /*zero=*/false);
      std::pair<at::Tensor, at::Tensor> wire;
      if (m.has_wire_copies() && m.wire_dtype != m.dtype) {
        const WireCopy& w = m.wire[size_t(op.layer)];
        wire.first = allocate_aligned(w.slab.flat.numel(), m.wire_dtype, m.device, false, false);
        if (w.scales.defined()) wire.second = at::empty_like(w.scales, w.scales.options().device(m.device).pinned_memory(false));
      }
      at::Tensor staging;
      if (st.host_blobs)
        staging = at::empty({(*st.host_blobs)[size_t(op.layer)].numel()}, at::TensorOptions().dtype(at::kByte).device(m.device));
      std::lock_guard<std::mutex> lock(st.buffers_mu);
      st.allocated[op.layer] = buffer;
      if (wire.first.defined()) st.allocated_wire[op.layer] = wire;
      if (staging.defined()) st.allocated_staging[op.layer] = staging;
      return;
    }
    case OpKind::free: {
      std::lock_guard<std::mutex> lock(st.buffers_mu);
      st.resident_views.erase(op.layer);
      st.allocated.erase(op.layer);
      st.allocated_wire.erase(op.layer);
      st.allocated_staging.erase(op.layer);
      return;
    }
    case OpKind::upload: {
      at::Tensor& buffer = st.buffer_for(op);
      const ParamSlab& master = m.blocks[size_t(op.layer)];
      SlabLayout layout = master.layout;
      layout.dtype = m.dtype;
      at::Tensor compute = buffer.narrow(0, 0, layout.elements);
      if (st.host_blobs) {
        // The blob's own bytes travel; dec/Lxx makes the block of them in the slot.
        const at::Tensor& blob = (*st.host_blobs)[size_t(op.layer)];
        const int64_t bytes = blob_bytes(blob);
        st.staging_for(op).narrow(0, 0, bytes).copy_(blob.narrow(0, 0, bytes), /*non_blocking=*/true);
      } else if (!m.has_wire_copies()) {
        compute.copy_(master.flat, /*non_blocking=*/true);
      } else {
        // The wire copy travels; below the compute format it lands beside the compute buffer and is decoded.
        const WireCopy& w = m.wire[size_t(op.layer)];
        if (m.wire_dtype == m.dtype) {
          compute.copy_(w.slab.flat.narrow(0, 0, layout.elements), /*non_blocking=*/true);
        } else {
          at::Tensor wire_buffer, scales;
          if (op.slot >= 0) {
            wire_buffer = st.slot_wire.at(size_t(op.slot));
            if (!st.slot_scales.empty()) scales = st.slot_scales.at(size_t(op.slot));
          } else {
            std::lock_guard<std::mutex> lock(st.buffers_mu);
            std::tie(wire_buffer, scales) = st.allocated_wire.at(op.layer);
          }
          wire_buffer.copy_(w.slab.flat, /*non_blocking=*/true);
          if (scales.defined()) scales.copy_(w.scales, /*non_blocking=*/true);
          decode_wire(wire_buffer, scales, m.wire_dtype, compute);
        }
      }
      ParamSlab views = ParamSlab::over(layout, compute);
      std::lock_guard<std::mutex> lock(st.buffers_mu);
      st.resident_views[op.layer] = std::move(views);
      return;
    }
    case OpKind::download: {
      if (st.host_blobs) {  // the staging buffer whole: the blob's size is known on the GPU only
        (*st.host_blobs)[size_t(op.layer)].copy_(st.staging_for(op), /*non_blocking=*/true);
        return;
      }
      ParamSlab& host = m.blocks[size_t(op.layer)];
      host.flat.copy_(st.block(op.layer).flat, /*non_blocking=*/true);
      return;
    }
    case OpKind::decode: return decode_block(op, st);
    case OpKind::encode: return encode_block(op, st);
    case OpKind::replay: return replay(op, st);
    case OpKind::zo_update: return zo_pass(target(op, st), coeffs(st, st.pending, st.seed, +eps));
    case OpKind::zo_perturb: return zo_pass(target(op, st), coeffs(st, {}, st.seed, +eps));
    case OpKind::zo_minus: return zo_pass(target(op, st), coeffs(st, {}, st.seed, -2 * eps));
    case OpKind::zo_restore: return zo_pass(target(op, st), coeffs(st, {}, st.seed, +eps));
    case OpKind::zo_fold: {
      ZoPassCoeffs k = coeffs(st, {}, st.seed, +eps);  // lr and weight decay; g is this step's
      k.projected_grad = float(st.projected_grad);
      k.fold_update = true;
      return zo_pass(target(op, st), k);
    }
    case OpKind::embed:
      (op.pass > 0 ? st.h_plus : st.h_minus) = model_embed(m.shape, m.resident, st.ids);
      return;
    case OpKind::forward: {
      if (st.step >= 1) fault_point("step:oom", "out of memory in the middle of a step");
      at::Tensor& h = op.pass > 0 ? st.h_plus : st.h_minus;
      const bool fused = st.plan != nullptr ? st.plan->policy.fused_kernels : Policy{}.fused_kernels;
      h = model_block(m.shape, st.block(op.layer), h, ForwardOptions{fused});
      return;
    }
    case OpKind::head:
      (op.pass > 0 ? st.loss_plus : st.loss_minus) =
          causal_lm_loss(m.shape, m.resident, op.pass > 0 ? st.h_plus : st.h_minus, st.ids, st.loss_mask);
      return;
    case OpKind::loss: {
      // The one host wait of the step: both losses in one copy.
      at::Tensor both = at::stack({st.loss_plus, st.loss_minus}).to(at::kDouble).cpu();
      st.loss_plus_value = both[0].item<double>();
      st.loss_minus_value = both[1].item<double>();
      st.projected_grad = projected_gradient(st.loss_plus_value, st.loss_minus_value, st.hyper.eps);
      return;
    }
    case OpKind::host_update: {
      // The host applies the pending update to its master (the GPU applied it to its rounded copy in zo+) and
      // re-encodes the wire copy for the next step's upload. The plan orders this after the upload read the copy.
      if (!st.pending.active) return;
      ParamSlab& master = m.blocks[size_t(op.layer)];
      zo_pass_cpu(master.flat.data_ptr(), master.layout.dtype, zo_segments(master.layout),
                  coeffs(st, st.pending, 0, 0.0f), st.host_threads);
      encode_wire(master, m.wire[size_t(op.layer)]);
      return;
    }
  }
}

}  // namespace zo2
