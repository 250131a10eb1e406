// ZoEngine: builds each step's plan, keeps the slots and the update history, runs the plan through the executor.
#include "engine/zo_engine.h"

#include <ATen/ATen.h>
#include <fmt/format.h>

#include "core/philox.h"
#include "engine/cuda_glue.h"
#include "engine/step_state.h"
#include "engine/wire_format.h"

namespace zo2 {

void check_engine_policy(const Policy& policy, const OptModel& model) {
  if (policy.layers() != model.shape.layers)
    throw std::invalid_argument(fmt::format("--offload covers {} layers, the model has {}", policy.layers(),
                                            model.shape.layers));
  if (policy.offload != model.offloaded)
    throw std::invalid_argument("the model's placement does not match --offload (allocate it with the policy's offload)");
  if (policy.dtype != model.dtype)
    throw std::invalid_argument(fmt::format("--dtype {} but the model is held in {}", dtype_name(policy.dtype),
                                            dtype_name(model.dtype)));
  const bool same = policy.wire == policy.dtype && policy.master == policy.dtype;
  if (!same && policy.gpu_writes_back())
    throw std::invalid_argument(fmt::format(
        "--wire {} / --master {} with --dtype {}: the engine runs either one format everywhere, or a wire below the "
        "master (the host keeps and updates the master); a GPU-side master in another format than --dtype is "
        "modelled by the simulator only",
        dtype_name(policy.wire), dtype_name(policy.master), dtype_name(policy.dtype)));
  if (model.master_dtype != policy.master || model.wire_dtype != policy.wire)
    throw std::invalid_argument("the model's host formats do not match --master/--wire (allocate it with the policy's)");
}

ZoEngine::ZoEngine(OptModel& model, Policy policy, ZoHyper hyper, int64_t batch, int64_t seq,
                   std::unique_ptr<Executor> executor)
    : model_(model), policy_(std::move(policy)), hyper_(hyper), batch_(batch), seq_(seq),
      executor_(std::move(executor)) {
  check_engine_policy(policy_, model_);
  plan_ = build_plan(model_.shape, policy_, batch_, seq_, 0);  // refuses a plan over --gpu-mem-budget
  if (policy_.slots == SlotMode::reuse) {
    const int64_t elements = block_layout(model_.shape, 0, model_.dtype).elements;
    const bool decode = model_.has_wire_copies() && model_.wire_dtype != model_.dtype;
    int64_t first_offloaded = 0;
    while (first_offloaded < model_.shape.layers && !model_.offloaded[size_t(first_offloaded)]) ++first_offloaded;
    for (int s = 0; s < plan_.slot_count; ++s) {
      slots_.push_back(allocate_aligned(elements, model_.dtype, model_.device, false, false));
      if (!decode) continue;
      const WireCopy& w = model_.wire[size_t(first_offloaded)];
      slot_wire_.push_back(allocate_aligned(w.slab.flat.numel(), model_.wire_dtype, model_.device, false, false));
      if (w.scales.defined()) slot_scales_.push_back(at::empty({w.scales.numel()}, w.scales.options().device(model_.device).pinned_memory(false)));
    }
  }
  codec_ = policy_.wire_codec == WireCodec::lossless && policy_.offloaded_count() > 0;
  if (codec_) allocate_codec_buffers();
}

StepResult ZoEngine::step(const at::Tensor& input_ids, const at::Tensor& loss_mask) {
  if (step_ > 0 && (policy_.writeback > 1 || policy_.prefetch_next) && !plan_fixed_) {
    // With --prefetch-next the plan continues the last one, whose early uploads hold its first blocks; after a flush
    // the slots hold nothing it can use, so it starts fresh.
    Plan next = build_plan(model_.shape, policy_, batch_, seq_, step_, MemoryModel{}, carried_.empty() ? nullptr : &plan_);
    plan_ = std::move(next);
  }
  if (codec_ && !blobs_fresh_) encode_host_blobs();  // the first step, or the first after a flush
  StepState st;
  st.model = &model_;
  st.plan = &plan_;
  st.host_threads = policy_.host_threads;
  if (codec_) {
    st.host_blobs = &host_blobs_;
    st.slot_staging = slot_staging_;
    st.codec_scratch = codec_scratch_;
  }
  st.hyper = hyper_;
  st.step = step_;
  st.seed = rng::step_seed(hyper_.seed, uint64_t(step_));
  st.pending = pending_;
  history_.push_back(PendingUpdate{false, st.seed, 0.0f});  // this step's seed, for replays; g filled in below
  st.history = &history_;
  st.replay_floor = replay_floor_;
  st.ids = input_ids;
  st.loss_mask = loss_mask;
  st.slots = slots_;
  st.slot_wire = slot_wire_;
  st.slot_scales = slot_scales_;
  if (plan_.continues) st.resident_views = carried_;  // where the previous step's early uploads put its blocks
  carried_.clear();
  executor_->run(st);
  // The views of the blocks uploaded for the next step (set when those uploads were enqueued or ran).
  for (const Op& op : plan_.ops)
    if (op.next_step) carried_.emplace(op.layer, st.resident_views.at(op.layer));

  StepResult r;
  r.step = step_;
  r.loss_plus = st.loss_plus_value;
  r.loss_minus = st.loss_minus_value;
  r.projected_grad = st.projected_grad;  // formed by the loss op, which the folded restores already applied
  history_.back() = PendingUpdate{true, st.seed, float(r.projected_grad)};
  pending_ = history_.back();
  ++step_;
  return r;
}

void ZoEngine::set_step(int64_t step) {
  if (step < 0) throw std::invalid_argument(fmt::format("step index {}: expected a number >= 0", step));
  flush();
  // Steps below the replay floor are never read (every block holds their updates): placeholders keep history_
  // indexed by step.
  history_.assign(size_t(step), PendingUpdate{});
  step_ = step;
  replay_floor_ = step;
}

void ZoEngine::use_plan(Plan plan) {
  // Not validated: a test may hand over a plan with an edge removed, to see the CPU executor catch it.
  if (plan.slot_count > int(slots_.size()) && policy_.slots == SlotMode::reuse)
    throw std::invalid_argument("use_plan: the plan needs more slots than the engine allocated");
  plan_ = std::move(plan);
  plan_fixed_ = true;
}

void ZoEngine::flush() {
  executor_->synchronize();
  carried_.clear();  // the flush reuses a slot and updates the host copies: the next step uploads its own blocks
  // Bring every block to the trained state: upload, replay what the GPU copy held beyond the host's, apply the
  // pending update, copy back. Built as a plan-less sequence of the same actions.
  StepState st;
  st.model = &model_;
  st.hyper = hyper_;
  st.step = step_;
  st.history = &history_;
  st.replay_floor = replay_floor_;
  st.pending = pending_;
  st.host_threads = policy_.host_threads;
  ZoPassCoeffs apply_pending;
  apply_pending.has_update = pending_.active;
  apply_pending.update_seed = pending_.seed;
  apply_pending.lr = hyper_.lr;
  apply_pending.projected_grad = pending_.projected_grad;
  apply_pending.weight_decay = hyper_.weight_decay;
  // Blocks that fold their update (--fold-update) have none pending.
  if (pending_.active && !policy_.folds(-1)) zo_pass(model_.resident, apply_pending);
  at::Tensor buffer;
  for (int64_t l = 0; l < model_.shape.layers; ++l) {
    if (!model_.offloaded[size_t(l)]) {
      if (pending_.active && !policy_.folds(l)) zo_pass(model_.blocks[size_t(l)], apply_pending);
      continue;
    }
    if (codec_) {
      flush_coded_block(l, st, apply_pending);
      continue;
    }
    if (model_.has_wire_copies()) {  // the host master is the authority: update it where it lives
      Op host_update;
      host_update.kind = OpKind::host_update;
      host_update.layer = l;
      host_update.name = "flush/host/update";
      run_op(host_update, st);
      continue;
    }
    // A step's slots are idle now (the executor synchronized): the first one carries the flush, so it allocates
    // nothing beyond the step's predicted peak. With --slots alloc there are none: one buffer for the whole flush.
    if (!buffer.defined())
      buffer = !slots_.empty() ? slots_[0]
                               : allocate_aligned(model_.blocks[size_t(l)].layout.elements, model_.dtype, model_.device);
    Op upload;
    upload.kind = OpKind::upload;
    upload.layer = l;
    upload.name = "flush/h2d";
    st.allocated[l] = buffer;
    run_op(upload, st);
    Op replay = upload;
    replay.kind = OpKind::replay;
    replay.updates = policy_.writeback > 1 ? replays_due(l, step_, policy_.writeback) : 0;
    run_op(replay, st);
    if (pending_.active) zo_pass(st.block(l), apply_pending);
    Op download = upload;
    download.kind = OpKind::download;
    run_op(download, st);  // the next block's upload reuses the buffer in the same stream order
    st.allocated.erase(l);
    st.resident_views.erase(l);
  }
  cuda_synchronize();  // the flush ran on the current stream; no-op without a GPU
  blobs_fresh_ = false;  // the slabs hold the blocks now; the next step encodes them again
  pending_ = PendingUpdate{};
  replay_floor_ = step_;  // every block now holds all updates up to step_-1
}

}  // namespace zo2
