// What the ops of one ZO step read and write, and the action each op kind performs. The executors decide only
// when an op runs (streams and events, or threads); run_op decides what it does, the same for every executor.
#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>
#include <mutex>
#include <vector>

#include "core/plan.h"
#include "core/zo_math.h"
#include "engine/opt_model.h"
#include "engine/zo_hyper.h"

namespace zo2 {

struct StepState {
  OptModel* model = nullptr;
  const Plan* plan = nullptr;
  ZoHyper hyper;
  int64_t step = 0;
  uint64_t seed = 0;                         // this step's seed
  PendingUpdate pending;                     // the previous step's update, applied by zo+ ops
  const std::vector<PendingUpdate>* history = nullptr;  // history[j]: step j's seed and g (for replays)
  int64_t replay_floor = 0;                  // steps below this were already applied on the host (after a flush)
  at::Tensor ids;                            // [B, T] on the device
  at::Tensor loss_mask;                      // bool [B, T] on the device (target tokens), or undefined: every token
  int64_t host_threads = 0;                  // --host-threads: threads of the host master update (0: all)

  // Device buffers for offloaded blocks: fixed slots (--slots reuse) or per-upload buffers (--slots alloc).
  std::vector<at::Tensor> slots;
  std::map<int64_t, at::Tensor> allocated;   // layer -> buffer
  // With --wire below --master: where the wire copy lands before it is decoded into the compute buffer (empty
  // when the wire format is the compute format: it lands in the compute buffer itself), and fp8 scales.
  std::vector<at::Tensor> slot_wire, slot_scales;
  std::map<int64_t, std::pair<at::Tensor, at::Tensor>> allocated_wire;  // layer -> (wire buffer, scales)
  std::map<int64_t, ParamSlab> resident_views;  // layer -> views over the buffer that holds it on the device
  std::mutex buffers_mu;  // guards the maps: the CPU executor's queues insert and look up concurrently

  // --wire-codec lossless (null host_blobs: raw copies). host_blobs[layer]: the offloaded block as a blob in host
  // memory (pinned on GPU runs; wire_codec_max_bytes capacity, the blob's size in its header). Uploads copy a blob
  // into its slot's staging buffer, dec/Lxx decodes it into the slot, enc/Lxx encodes the slot back into the staging
  // buffer with the table the upload brought, and the copy back takes the staging buffer home whole.
  std::vector<at::Tensor>* host_blobs = nullptr;
  std::vector<at::Tensor> slot_staging;                // per slot (--slots reuse), device bytes
  std::map<int64_t, at::Tensor> allocated_staging;     // layer -> staging buffer (--slots alloc)
  at::Tensor codec_scratch;                            // the GPU encoder's scratch (CUDA only)

  // Activations and outputs.
  at::Tensor h_plus, h_minus, loss_plus, loss_minus;
  double loss_plus_value = 0, loss_minus_value = 0;
  double projected_grad = 0;  // this step's g, formed by the loss op; the folded restores after it apply it

  // The device buffer an op's block lives in while it is uploaded (slot or allocation).
  at::Tensor& buffer_for(const Op& op);
  // The staging buffer of the op's slot or allocation (--wire-codec lossless).
  at::Tensor& staging_for(const Op& op);
  // The weights of block `layer` on the device: its slot's views when offloaded, else the model's slab.
  ParamSlab& block(int64_t layer);
};

// Performs `op` with ATen on the current stream (CUDA) or the calling thread (CPU).
void run_op(const Op& op, StepState& state);

// One fused ZO pass over a slab on its own device (CUDA: the current stream).
void zo_pass(ParamSlab& slab, const ZoPassCoeffs& k);

}  // namespace zo2
