// GPU and host memory prediction of a plan, one named term per buffer class.
#include "core/plan_memory.h"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

#include "core/model_family.h"
#include "core/plan.h"
#include "core/policy.h"
#include "core/slab_layout.h"

namespace zo2 {

std::string_view live_name(Live l) {
  switch (l) {
    case Live::always: return "always";
    case Live::forward: return "forward";
    case Live::head: return "head";
    case Live::per_upload: return "per_upload";
    case Live::decode: return "decode";
  }
  return "?";
}

Live parse_live(std::string_view s, const std::string& where) {
  for (Live l : {Live::always, Live::forward, Live::head, Live::per_upload, Live::decode})
    if (live_name(l) == s) return l;
  throw std::invalid_argument(
      fmt::format("{}: field 'live': expected always, forward, head, per_upload or decode, got \"{}\"", where, s));
}

int64_t MemoryPrediction::gpu_live_sum(Live live) const {
  int64_t n = 0;
  for (const auto& t : gpu)
    if (t.live == live) n += t.bytes;
  return n;
}

int64_t MemoryPrediction::gpu_total() const {
  // Per-upload buffers are counted at the moments they are live (AllocLive), never as a term of their own.
  // A decode runs inside an upload, between forwards: at most every per-upload buffer is live beside it.
  const int64_t moment = std::max({alloc.any, alloc.forward + gpu_live_sum(Live::forward),
                                   alloc.head + gpu_live_sum(Live::head), alloc.any + gpu_live_sum(Live::decode)});
  return gpu_live_sum(Live::always) + moment;
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
  auto term = [](const MemoryTerm& t) { return fmt::format("{} {} ({} B)", t.name, format_bytes(t.bytes), t.bytes); };
  for (const auto& t : gpu) {
    if (t.live != Live::always) continue;
    if (!s.empty()) s += " + ";
    s += term(t);
  }
  // The moments: each transient term with the per-upload buffers live while it is.
  auto moment = [&](Live live, int64_t buffers) {
    std::string m;
    for (const auto& t : gpu)
      if (t.live == live) m += (m.empty() ? "" : " + ") + term(t);
    if (buffers > 0) m += fmt::format("{}per-upload buffers {} ({} B)", m.empty() ? "" : " + ", format_bytes(buffers), buffers);
    return m.empty() ? std::string("nothing") : m;
  };
  s += " + max(" + moment(Live::forward, alloc.forward) + "; " + moment(Live::head, alloc.head);
  if (gpu_live_sum(Live::decode) > 0) s += "; " + moment(Live::decode, alloc.any);
  if (alloc.any > 0) s += "; " + moment(Live::per_upload, 0);
  s += ")";
  return s + fmt::format(" = {} ({} B)", format_bytes(gpu_total()), gpu_total());
}

MemoryPrediction predict_memory(const ModelShape& shape, const Policy& policy, int64_t batch, int64_t seq,
                                int slot_count, int64_t slot_bytes, const MemoryModel& model, const AllocLive& alloc,
                                int64_t staging_bytes, int64_t codec_scratch_bytes) {
  MemoryPrediction m;
  const int64_t elt = dtype_bytes(policy.dtype);
  const int64_t tokens = batch * seq;
  const int64_t offloaded = policy.offloaded_count();
  const int64_t resident_blocks = policy.layers() - offloaded;
  const int64_t block_compute = block_layout(shape, 0, policy.dtype).bytes();
  const bool per_upload = policy.slots == SlotMode::alloc;

  m.gpu.push_back({"resident_group", resident_layout(shape, policy.dtype).bytes(),
                   "embeddings, projections, final norm and head (tied to embed_tokens for OPT), compute format"});
  m.gpu.push_back({"resident_blocks", resident_blocks * block_compute, "blocks kept on the GPU, compute format"});
  if (per_upload) {
    m.alloc = alloc;
    m.gpu.push_back({"slots", alloc.any,
                     fmt::format("most per-upload buffers of {} B live at once in program order (alloc/Lxx before "
                                 "free/Lxx; wire buffer, plus a compute buffer when the formats differ)",
                                 slot_bytes),
                     Live::per_upload});
  } else {
    m.gpu.push_back({"slots", int64_t(slot_count) * slot_bytes,
                     fmt::format("{} slots of {} B (wire buffer, plus a compute buffer when the formats differ)",
                                 slot_count, slot_bytes)});
  }
  if (staging_bytes > 0 || codec_scratch_bytes > 0)
    m.gpu.push_back({"codec_staging", (per_upload ? 0 : int64_t(slot_count) * staging_bytes) + codec_scratch_bytes,
                     per_upload ? fmt::format("the GPU encoder's scratch ({} B); each per-upload buffer holds its "
                                              "blob's staging buffer ({} B)", codec_scratch_bytes, staging_bytes)
                                : fmt::format("{} staging buffers of {} B (a block's largest blob: the upload lands "
                                              "there, the copy back leaves from there) and the GPU encoder's scratch "
                                              "({} B)", slot_count, staging_bytes, codec_scratch_bytes)});
  m.gpu.push_back({"hidden_states", 2 * tokens * shape.hidden * elt,
                   "the + and - passes' hidden states [B,T,H], both kept as the passes advance together"});
  m.gpu.push_back({"workspace", model.workspace_bytes,
                   "cuBLAS workspace of the compute stream and small buffers (MemoryModel::workspace_bytes)"});
  const LayerWorkspace layer = shape.desc().layer_workspace(shape);
  const int64_t hidden_buffers = layer.hidden_buffers, ffn_buffers = layer.ffn_buffers;
  int64_t workspace = tokens * (hidden_buffers * shape.hidden + ffn_buffers * shape.ffn) * elt;
  if (model.materialized_attention_scores) workspace += batch * shape.heads * seq * seq * elt;
  m.gpu.push_back({"layer_workspace", workspace,
                   fmt::format("one layer's forward buffers while it is enqueued: {} x [B,T,H] and {} x [B,T,FFN]{}{}",
                               hidden_buffers, ffn_buffers,
                               model.materialized_attention_scores ? " and [B,heads,T,T] scores" : "",
                               layer.note),
                   Live::forward});
  // The head GEMM's input is a new tensor when a final norm or project_out makes it; with a projection, the norm's
  // output is freed once project_out's exists, before the logits are allocated.
  const int64_t head_input_width = shape.desc().head_input_width(shape);
  const int64_t head_rows = batch * std::max<int64_t>(seq - 1, 0);
  m.gpu.push_back({"logits", head_rows * (shape.vocab_size + head_input_width) * elt,
                   fmt::format("the loss while a head op is enqueued: compute-format logits [B,T-1,V] and the head "
                               "GEMM's input [B,T-1,{}] (the cross-entropy kernel reads the logits once, no fp32 copy)",
                               head_input_width),
                   Live::head});

  if (policy.wire == DType::fp8_e4m3 && policy.wire != policy.dtype && offloaded > 0) {
    // engine/wire_format.cc decode_wire: the fp8 groups widened to fp32, times their scales: two fp32 copies of the
    // padded block live at once before the product is converted into the compute buffer.
    // The wire copy is laid out from the master's slab (engine/wire_format.cc allocate_wire), groups of 128.
    const int64_t groups = (block_layout(shape, 0, policy.master).elements + kFp8GroupElements - 1) / kFp8GroupElements;
    const int64_t padded = groups * kFp8GroupElements;
    m.gpu.push_back({"wire_decode", 2 * padded * 4,
                     "decoding an fp8 wire block: its fp32 widening and the scaled fp32 product, while an upload "
                     "decodes",
                     Live::decode});
  }

  m.host.push_back({"host_master", offloaded * block_layout(shape, 0, policy.master).bytes(),
                    "offloaded blocks' master copies, master format"});
  m.host.push_back({"host_wire_mirror", policy.wire != policy.master ? offloaded * wire_bytes(shape, policy.wire) : 0,
                    "pinned wire-format copies of the offloaded blocks when wire and master differ"});
  m.host.push_back({"host_codec_blobs", staging_bytes > 0 ? offloaded * staging_bytes : 0,
                    "--wire-codec lossless: each offloaded block's blob (pinned, its largest size: the copy back "
                    "brings the staging buffer home whole)"});
  return m;
}

}  // namespace zo2
