// The plan's GPU and host memory prediction, term by term, so the engine can calibrate each term on its allocator.
//
// What is predicted: the peak of the bytes PyTorch's caching allocator counts as allocated (its
// allocated_bytes.peak, the engine's peak_allocated_bytes). The allocator counts a tensor from the call that
// allocates it to the call that frees it, on the host; the CUDA executor enqueues a step's ops in program order
// ahead of the GPU, so that count follows the plan's program order, not the GPU's timeline. Each term says when its
// bytes are live (Live); the total is the always-live terms plus the largest of the moments: a block forward being
// enqueued (its workspace), a head op (the loss's logits), or, with --slots alloc, the most per-upload buffers live
// at once.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/dtype.h"
#include "core/model_shape.h"

namespace zo2 {

struct Policy;

// Named constants of the prediction; change them here when the engine's allocator says otherwise.
struct MemoryModel {
  // Besides the named tensors, the engine's allocator holds PyTorch's cuBLAS workspace for the one stream that runs
  // GEMMs (32 MiB: cuBLAS's recommended size on Hopper, PyTorch's default; cuBLASLt shares it) and about 1 MiB of
  // small buffers. The allocator's peak on the H200 exceeds the named tensors by 33 MiB (+ the 16 KiB of token ids)
  // in every measured configuration, 1.3B to 175B, resident or offloaded (experiments/results/engine_h200_*.csv).
  int64_t workspace_bytes = 33ll << 20;
  // The per-layer forward workspace ([B,T,H] and [B,T,FFN] buffers) is the family's (ModelFamily::layer_workspace).
  // Attention with a fused kernel keeps no [B,heads,T,T] scores; set true for an unfused attention.
  bool materialized_attention_scores = false;
  // The loss on the GPU (engine/opt_forward.cc causal_lm_loss) reads the compute-format logits [B,T-1,V] once
  // (engine/cross_entropy.cu): no fp32 copy. Its peak is the logits plus the head GEMM's input [B,T-1,H'] (the final
  // norm's or project_out's output; none when the head reads the hidden states directly).
};

// When a term's bytes are allocated, in the host's program order.
enum class Live : uint8_t {
  always,      // the whole step (allocated before it or at its start)
  forward,     // while one block forward (fwd+/fwd-) is enqueued: freed when it returns
  head,        // while one head op (head/fwd+, head/fwd-) is enqueued
  decode,      // while one upload decodes an fp8 wire copy into the compute format
  per_upload,  // --slots alloc: allocated by alloc/Lxx, freed by free/Lxx; bytes = the most live at once
};
std::string_view live_name(Live l);
Live parse_live(std::string_view s, const std::string& where);  // throws naming `where` and the expected names

struct MemoryTerm {
  std::string name;
  int64_t bytes = 0;
  std::string what;  // one line: what the term holds
  Live live = Live::always;
};

// --slots alloc: bytes of per-upload buffers live at once in program order, the most at any point and the most while
// a block forward or a head op is enqueued (all zero with --slots reuse).
struct AllocLive {
  int64_t any = 0, forward = 0, head = 0;
};

struct MemoryPrediction {
  std::vector<MemoryTerm> gpu;   // gpu_total() = always terms + the largest moment (see the header comment)
  std::vector<MemoryTerm> host;  // sums to host_total()
  AllocLive alloc;
  int64_t gpu_total() const;
  int64_t host_total() const;
  int64_t gpu_term(const std::string& name) const;  // 0 when absent
  int64_t gpu_live_sum(Live live) const;             // the bytes of the terms live at that kind of moment
  std::string describe_gpu() const;  // "resident_group 1.2 GB + ... + max(layer_workspace ..., logits ...) = total"
};

// Terms: resident_group, resident_blocks, slots, hidden_states, workspace (always; slots per_upload with --slots
// alloc), codec_staging (always, --wire-codec lossless with --slots reuse; with alloc the staging buffers are part
// of each per-upload buffer), layer_workspace (forward), logits (head), wire_decode (decode, --wire fp8 only) on the
// GPU; host_master, host_wire_mirror, host_codec_blobs on the host. `staging_bytes` and `codec_scratch_bytes` are the
// plan's (core/plan.h).
MemoryPrediction predict_memory(const ModelShape& shape, const Policy& policy, int64_t batch, int64_t seq,
                                int slot_count, int64_t slot_bytes, const MemoryModel& model,
                                const AllocLive& alloc = {}, int64_t staging_bytes = 0,
                                int64_t codec_scratch_bytes = 0);

std::string format_bytes(int64_t bytes);  // "1.23 GB" (decimal units)

}  // namespace zo2
