// Seed-log replay: the ZO passes of each logged step over every slab, in training's rounding order.
#include "engine/zo_replay.h"

#include <ATen/ATen.h>

#include <map>

#include "core/plan.h"
#include "core/policy.h"

#include "engine/cuda_glue.h"
#include "engine/step_state.h"
#include "engine/zo_kernels.h"

namespace zo2 {
namespace {

// The ZO passes one step makes on each slab (-1: the resident group), in order, as the plan of a resident, folded
// step lists them: a block takes +eps, -2eps and the folded restore; the resident group one restore cycle around the
// embeddings and another, folded, around the head. Every policy stores bitwise what this one does.
std::map<int64_t, std::vector<OpKind>> step_passes(const ModelShape& shape) {
  PolicyOptions o;
  o.offload = "none";
  o.fold_update = "on";
  const Plan plan = build_plan(shape, resolve_policy(o, shape.layers), 1, 2, 0);
  std::map<int64_t, std::vector<OpKind>> passes;
  for (const Op& op : plan.ops)
    if (op.kind == OpKind::zo_update || op.kind == OpKind::zo_perturb || op.kind == OpKind::zo_minus ||
        op.kind == OpKind::zo_restore || op.kind == OpKind::zo_fold)
      passes[op.layer].push_back(op.kind);
  return passes;
}

void replay_slab(ParamSlab& slab, const std::vector<OpKind>& passes, float eps, float weight_decay,
                 const std::vector<LoggedStep>& steps) {
  for (const LoggedStep& s : steps) {
    for (OpKind kind : passes) {
      ZoPassCoeffs k;  // as run_op forms them; nothing is pending when every slab folds
      k.perturb_seed = s.seed;
      k.lr = s.lr;
      k.weight_decay = weight_decay;
      k.perturb_scale = kind == OpKind::zo_minus ? -2 * eps : eps;
      if (kind == OpKind::zo_fold) {
        k.projected_grad = s.projected_grad;
        k.fold_update = true;
      }
      zo_pass(slab, k);
    }
  }
}

}  // namespace

void replay_logged_steps(OptModel& m, float eps, float weight_decay, const std::vector<LoggedStep>& steps) {
  const auto passes = step_passes(m.shape);
  replay_slab(m.resident, passes.at(-1), eps, weight_decay, steps);
  at::Tensor buffer;  // one device buffer for every offloaded block in turn
  for (int64_t l = 0; l < m.shape.layers; ++l) {
    ParamSlab& block = m.blocks[size_t(l)];
    if (!m.offloaded[size_t(l)] || (!m.has_wire_copies() && !m.device.is_cuda())) {
      replay_slab(block, passes.at(l), eps, weight_decay, steps);  // where the step's passes ran (a CPU slot computes alike)
      continue;
    }
    if (m.has_wire_copies()) {  // the host master: the update alone, each step, as the host update op applies it
      for (const LoggedStep& s : steps) {
        ZoPassCoeffs k;
        k.has_update = true;
        k.update_seed = s.seed;
        k.lr = s.lr;
        k.projected_grad = s.projected_grad;
        k.weight_decay = weight_decay;
        zo_pass_cpu(block.flat.data_ptr(), block.layout.dtype, zo_segments(block.layout), k);
      }
      encode_wire(block, m.wire[size_t(l)]);
      continue;
    }
    if (!buffer.defined()) buffer = allocate_aligned(block.layout.elements, m.dtype, m.device, false, false);
    ParamSlab on_device = ParamSlab::over(block.layout, buffer);
    on_device.flat.copy_(block.flat);
    replay_slab(on_device, passes.at(l), eps, weight_decay, steps);
    block.flat.copy_(on_device.flat);
  }
  cuda_synchronize();  // the passes ran on the current stream; no-op without a GPU
}

}  // namespace zo2
