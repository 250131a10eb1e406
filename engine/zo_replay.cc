// Seed-log replay: the ZO passes of each logged step over every slab, in training's rounding order.
#include "engine/zo_replay.h"

#include <ATen/ATen.h>

#include "engine/cuda_glue.h"
#include "engine/step_state.h"
#include "engine/zo_kernels.h"

namespace zo2 {
namespace {

void replay_slab(ParamSlab& slab, float eps, float weight_decay, const std::vector<LoggedStep>& steps) {
  for (const LoggedStep& s : steps) {
    ZoPassCoeffs k;
    k.perturb_seed = s.seed;
    k.lr = s.lr;
    k.weight_decay = weight_decay;
    k.perturb_scale = eps;
    zo_pass(slab, k);
    k.perturb_scale = -2 * eps;
    zo_pass(slab, k);
    k.perturb_scale = eps;
    k.projected_grad = s.projected_grad;
    k.fold_update = true;
    zo_pass(slab, k);
  }
}

}  // namespace

void replay_logged_steps(OptModel& m, float eps, float weight_decay, const std::vector<LoggedStep>& steps) {
  replay_slab(m.resident, eps, weight_decay, steps);
  at::Tensor buffer;  // one device buffer for every offloaded block in turn
  for (int64_t l = 0; l < m.shape.layers; ++l) {
    ParamSlab& block = m.blocks[size_t(l)];
    if (!m.offloaded[size_t(l)] || (!m.has_wire_copies() && !m.device.is_cuda())) {
      replay_slab(block, eps, weight_decay, steps);  // where the step's passes ran (a CPU slot computes alike)
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
    replay_slab(on_device, eps, weight_decay, steps);
    block.flat.copy_(on_device.flat);
  }
  cuda_synchronize();  // the passes ran on the current stream; no-op without a GPU
}

}  // namespace zo2
