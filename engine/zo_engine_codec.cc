// ZoEngine with --wire-codec lossless: the host blobs, the staging buffers, and the flush of a coded block.
#include <ATen/ATen.h>
#include <fmt/format.h>

#include <stdexcept>

#include "engine/step_state.h"
#include "engine/zo_engine.h"

namespace zo2 {

namespace {

at::Tensor bytes_on(int64_t n, c10::Device device, bool pinned) {
  auto options = at::TensorOptions().dtype(at::kByte).device(device);
  if (pinned && device.is_cpu()) options = options.pinned_memory(true);
  try {
    return at::empty({n}, options);
  } catch (const std::exception& e) {
    throw std::runtime_error(fmt::format("--wire-codec lossless: allocating {} bytes of {} memory failed: {}", n,
                                         pinned ? "pinned host" : device.str(), e.what()));
  }
}

}  // namespace

void ZoEngine::allocate_codec_buffers() {
  // Every buffer the largest blob fits in: a block's coded size changes with its values, and the copy back, which
  // cannot know it on the host, brings the staging buffer home whole.
  const int64_t capacity = plan_.staging_bytes;
  const bool gpu = model_.device.is_cuda();
  host_blobs_.resize(size_t(model_.shape.layers));
  for (int64_t l = 0; l < model_.shape.layers; ++l)
    if (model_.offloaded[size_t(l)]) host_blobs_[size_t(l)] = bytes_on(capacity, c10::kCPU, gpu);
  if (policy_.slots == SlotMode::reuse)
    for (int s = 0; s < plan_.slot_count; ++s) slot_staging_.push_back(bytes_on(capacity, model_.device, false));
  if (gpu) codec_scratch_ = bytes_on(plan_.codec_scratch_bytes, model_.device, false);
}

void ZoEngine::encode_host_blobs() {
  // Each block's table is built on its first encoding and kept: later encodings (these, after a flush, and the GPU's
  // before each copy back) escape the symbols it lacks.
  const bool first = tables_.empty();
  if (first) tables_.resize(size_t(model_.shape.layers));
  for (int64_t l = 0; l < model_.shape.layers; ++l) {
    if (!model_.offloaded[size_t(l)]) continue;
    const at::Tensor flat = model_.blocks[size_t(l)].flat.contiguous();
    const auto* data = static_cast<const uint16_t*>(flat.data_ptr());
    const int64_t n = flat.numel();
    if (first) tables_[size_t(l)] = wire_codec_table(model_.dtype, data, n);
    at::Tensor& blob = host_blobs_[size_t(l)];
    wire_codec_encode(tables_[size_t(l)], data, n, blob.data_ptr<uint8_t>(), blob.numel());
  }
  blobs_fresh_ = true;
}

void ZoEngine::flush_coded_block(int64_t l, StepState& st, const ZoPassCoeffs& apply_pending) {
  // Without a step since the last flush (or since the engine was made) the slab is the block: nothing to bring.
  if (!blobs_fresh_) return;
  // The step's first slot and staging buffer are idle (the executor synchronized): they carry the flush.
  at::Tensor slot = !slots_.empty() ? slots_[0]
                                    : allocate_aligned(model_.blocks[size_t(l)].layout.elements, model_.dtype,
                                                       model_.device);
  at::Tensor staging = !slot_staging_.empty() ? slot_staging_[0] : bytes_on(plan_.staging_bytes, model_.device, false);
  st.host_blobs = &host_blobs_;
  st.allocated[l] = slot;
  st.allocated_staging[l] = staging;
  Op op;
  op.layer = l;
  op.name = "flush/h2d";
  for (OpKind kind : {OpKind::upload, OpKind::decode}) {
    op.kind = kind;
    run_op(op, st);
  }
  op.kind = OpKind::replay;
  op.updates = policy_.writeback > 1 ? replays_due(l, step_, policy_.writeback) : 0;
  run_op(op, st);
  if (pending_.active) zo_pass(st.block(l), apply_pending);
  // The slab takes the trained block (the next block's upload reuses the buffers in the same stream order).
  model_.blocks[size_t(l)].flat.copy_(st.block(l).flat, /*non_blocking=*/true);
  st.allocated.erase(l);
  st.allocated_staging.erase(l);
  st.resident_views.erase(l);
}

}  // namespace zo2
