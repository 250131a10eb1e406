// The ZO engine: MeZO steps on a model whose blocks are resident on the device or streamed from host memory, as a
// plan built from the policy and run by an executor (CUDA streams, or the CPU reference executor's threads).
#pragma once
#include <ATen/core/Tensor.h>

#include <map>
#include <memory>
#include <vector>

#include "core/plan.h"
#include "core/policy.h"
#include "core/wire_codec.h"
#include "core/zo_math.h"
#include "engine/executor.h"
#include "engine/opt_model.h"
#include "engine/zo_hyper.h"

namespace zo2 {

class ZoEngine {
 public:
  // `model` must already be placed as `policy.offload` says (OptModel::allocate's offload argument). Slots are
  // allocated here, after the plan of step 0 has been checked against --gpu-mem-budget.
  ZoEngine(OptModel& model, Policy policy, ZoHyper hyper, int64_t batch, int64_t seq, std::unique_ptr<Executor> executor);

  // One MeZO step on input_ids [B, T] (int64, on the model's device); the update stays pending until the next step.
  // loss_mask (bool [B, T] on the device, engine/input_check.h): the loss covers the marked target tokens only.
  // The batch and sequence given to the constructor size the memory plan; steps may use other shapes.
  StepResult step(const at::Tensor& input_ids, const at::Tensor& loss_mask = {});
  // Applies the pending update (and, with --writeback K > 1, the updates not yet copied back) to every block and
  // writes every offloaded block back to host memory: the model is then exactly the trained one.
  void flush();

  // Runs `plan` for every following step instead of building one from the policy (tests and experiments that edit
  // plans: the executors follow whatever order and edges it has). Called before each step, it feeds a chain of
  // plans (--prefetch-next): a plan that continues the last one finds the blocks that plan uploaded for it.
  void use_plan(Plan plan);
  const Plan& plan() const { return plan_; }
  const Executor& executor() const { return *executor_; }
  int64_t steps_done() const { return step_; }
  // Flushes, then numbers the next step `step` (its seed is rng::step_seed(hyper.seed, step)): a run resumed from a
  // flushed checkpoint continues with the seeds the uninterrupted run drew.
  void set_step(int64_t step);
  const ZoHyper& hyper() const { return hyper_; }
  // The update the next step (or flush) applies to blocks that keep it pending; inactive when none is.
  const PendingUpdate& pending() const { return pending_; }
  const Policy& policy() const { return policy_; }

 private:
  OptModel& model_;
  Policy policy_;
  ZoHyper hyper_;
  int64_t batch_, seq_;
  std::unique_ptr<Executor> executor_;
  Plan plan_;
  std::vector<at::Tensor> slots_, slot_wire_, slot_scales_;
  // --wire-codec lossless with offloaded blocks (engine/zo_engine_codec.cc): each offloaded block's blob in host
  // memory and its table (built on the block's first encoding, kept for later host encodings), a staging buffer per
  // slot and the GPU encoder's scratch. The blobs hold the blocks between flushes; a flush writes the blocks' slabs
  // (what checkpoints and forwards read) and the next step encodes the slabs again, so a slab written while no step
  // runs is what the next step trains.
  bool codec_ = false, blobs_fresh_ = false;
  std::vector<at::Tensor> host_blobs_, slot_staging_;
  std::vector<WireCodecTable> tables_;
  at::Tensor codec_scratch_;
  void allocate_codec_buffers();
  void encode_host_blobs();
  // Brings offloaded block `layer` from its blob to the trained state in its slab (st: the flush's state).
  void flush_coded_block(int64_t layer, StepState& st, const ZoPassCoeffs& apply_pending);
  std::map<int64_t, ParamSlab> carried_;  // layer -> its slot's views: blocks the last step uploaded for the next
  std::vector<PendingUpdate> history_;  // history_[j]: step j's seed and projected gradient
  PendingUpdate pending_;
  int64_t step_ = 0;
  int64_t replay_floor_ = 0;
  bool plan_fixed_ = false;
};

// Throws std::invalid_argument naming the flag when the engine cannot run this policy on this model.
void check_engine_policy(const Policy& policy, const OptModel& model);

}  // namespace zo2
