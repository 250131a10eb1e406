// The plan's GPU and host memory prediction, term by term, so the engine can calibrate each term on its allocator.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/model_shape.h"

namespace zo2 {

struct Policy;

// Named constants of the prediction; change them here when the engine's allocator says otherwise.
struct MemoryModel {
  // cuBLAS workspaces and small buffers the engine keeps besides the named tensors.
  int64_t workspace_bytes = 64ll << 20;
  // The per-layer forward workspace is [B,T,H] buffers (q, k, v, attention output, residual) and [B,T,FFN] ones.
  int64_t layer_workspace_hidden_buffers = 5;
  int64_t layer_workspace_ffn_buffers = 1;
  // Attention with a fused kernel keeps no [B,heads,T,T] scores; set true for an unfused attention.
  bool materialized_attention_scores = false;
};

struct MemoryTerm {
  std::string name;
  int64_t bytes = 0;
  std::string what;  // one line: what the term holds
};

struct MemoryPrediction {
  std::vector<MemoryTerm> gpu;   // sums to gpu_total()
  std::vector<MemoryTerm> host;  // sums to host_total()
  int64_t gpu_total() const;
  int64_t host_total() const;
  int64_t gpu_term(const std::string& name) const;  // 0 when absent
  std::string describe_gpu() const;  // "resident_group 1.2 GB + slots ... = total"
};

// Terms: resident_group, resident_blocks, slots, hidden_states, layer_workspace, logits, workspace (GPU);
// host_master, host_wire_mirror (host).
MemoryPrediction predict_memory(const ModelShape& shape, const Policy& policy, int64_t batch, int64_t seq,
                                int slot_count, int64_t slot_bytes, const MemoryModel& model);

std::string format_bytes(int64_t bytes);  // "1.23 GB" (decimal units)

}  // namespace zo2
