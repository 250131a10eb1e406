// GPU and host memory prediction of a plan, one named term per buffer class.
#include "core/plan_memory.h"

#include <fmt/format.h>

#include "core/plan.h"
#include "core/policy.h"
#include "core/slab_layout.h"

namespace zo2 {

int64_t MemoryPrediction::gpu_total() const {
  int64_t n = 0;
  for (const auto& t : gpu) n += t.bytes;
  return n;
}

int64_t MemoryPrediction::host_total() const {
  int64_t n = 0;
  for (const auto& t : host) n += t.bytes;
  return n;
}

int64_t MemoryPrediction::gpu_term(const std::string& name) const {
  for (const auto& t : gpu)
    if (t.name == name) return t.bytes;
  return 0;
}

std::string format_bytes(int64_t bytes) {
  const double b = double(bytes);
  if (b >= 1e9) return fmt::format("{:.2f} GB", b / 1e9);
  if (b >= 1e6) return fmt::format("{:.2f} MB", b / 1e6);
  if (b >= 1e3) return fmt::format("{:.2f} kB", b / 1e3);
  return fmt::format("{} B", bytes);
}

std::string MemoryPrediction::describe_gpu() const {
  std::string s;
  for (const auto& t : gpu) {
    if (!s.empty()) s += " + ";
    s += fmt::format("{} {} ({} B)", t.name, format_bytes(t.bytes), t.bytes);
  }
  return s + fmt::format(" = {} ({} B)", format_bytes(gpu_total()), gpu_total());
}

MemoryPrediction predict_memory(const ModelShape& shape, const Policy& policy, int64_t batch, int64_t seq,
                                int slot_count, int64_t slot_bytes, const MemoryModel& model) {
  MemoryPrediction m;
  const int64_t elt = dtype_bytes(policy.dtype);
  const int64_t tokens = batch * seq;
  const int64_t offloaded = policy.offloaded_count();
  const int64_t resident_blocks = policy.layers() - offloaded;
  const int64_t block_compute = block_layout(shape, 0, policy.dtype).bytes();

  m.gpu.push_back({"resident_group", resident_layout(shape, policy.dtype).bytes(),
                   "embeddings, projections and final norm (the tied head), compute format"});
  m.gpu.push_back({"resident_blocks", resident_blocks * block_compute, "blocks kept on the GPU, compute format"});
  m.gpu.push_back({"slots", int64_t(slot_count) * slot_bytes,
                   fmt::format("{} slots of {} B (wire buffer, plus a compute buffer when the formats differ)",
                               slot_count, slot_bytes)});
  m.gpu.push_back({"hidden_states", 2 * tokens * shape.hidden * elt,
                   "the + and - passes' hidden states [B,T,H], both kept as the passes advance together"});
  int64_t workspace = tokens * (model.layer_workspace_hidden_buffers * shape.hidden +
                                model.layer_workspace_ffn_buffers * shape.ffn) * elt;
  if (model.materialized_attention_scores) workspace += batch * shape.heads * seq * seq * elt;
  m.gpu.push_back({"layer_workspace", workspace,
                   fmt::format("one layer's forward buffers: {} x [B,T,H] and {} x [B,T,FFN]{}",
                               model.layer_workspace_hidden_buffers, model.layer_workspace_ffn_buffers,
                               model.materialized_attention_scores ? " and [B,heads,T,T] scores" : "")});
  m.gpu.push_back({"logits", tokens * shape.vocab_size * (elt + 4),
                   "logits [B,T,V] in the compute format plus fp32 for the loss (one pass at a time)"});
  m.gpu.push_back({"workspace", model.workspace_bytes, "cuBLAS workspaces and small buffers"});

  m.host.push_back({"host_master", offloaded * block_layout(shape, 0, policy.master).bytes(),
                    "offloaded blocks' master copies, master format"});
  m.host.push_back({"host_wire_mirror", policy.wire != policy.master ? offloaded * wire_bytes(shape, policy.wire) : 0,
                    "pinned wire-format copies of the offloaded blocks when wire and master differ"});
  return m;
}

}  // namespace zo2
