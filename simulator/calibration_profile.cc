// zo2 calibrate's measurements assembled into a HardwareProfile: each field's number and the source that says how it
// was measured (the writer is profile_to_json, so what calibrate writes is what parse_profile reads).
#include "simulator/calibration_profile.h"

#include <algorithm>
#include <stdexcept>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace zo2 {

namespace {

using sim::HardwareProfile;
using sim::SizeTable;

// Sorted by size, equal sizes merged (a block size equal to a listed size: the first kept); every point checked.
SizeTable table(SizePoints pts, const std::string& field) {
  if (pts.empty()) throw std::invalid_argument(fmt::format("calibration: field '{}': no measurements", field));
  std::sort(pts.begin(), pts.end());
  SizeTable t;
  for (const auto& [bytes, v] : pts) {
    if (!(bytes > 0) || !(v > 0))
      throw std::invalid_argument(
          fmt::format("calibration: field '{}': expected bytes > 0 and value > 0, got [{}, {}]", field, bytes, v));
    if (!t.points.empty() && bytes == t.points.back().first) continue;
    t.points.emplace_back(bytes, v);
  }
  return t;
}

std::string mb(double bytes) { return fmt::format("{:.0f} MiB", bytes / 1048576.0); }

}  // namespace

HardwareProfile profile_from_calibration(const CalibrationMeasurements& m) {
  const std::string by = fmt::format("measured by zo2 calibrate on {} (driver {}, {}), median of {} repeats after {} "
                                     "warm-up",
                                     m.card, m.driver, m.date, m.repeats, m.warmup);
  HardwareProfile p;
  auto& src = p.sources;
  p.name = m.name;
  p.card = m.card;
  p.driver = m.driver;
  p.date = m.date;
  p.source = by + fmt::format("; zo2 commit {}", m.commit);
  p.gpu_memory_bytes = m.gpu_memory_bytes;
  src["gpu_memory_bytes"] = "cudaGetDeviceProperties totalGlobalMem, " + by;
  p.host_memory_bytes = m.host_memory_bytes;
  src["host_memory_bytes"] = "sysconf(_SC_PHYS_PAGES) x page size, " + by;
  p.h2d_pinned = table(m.h2d_pinned, "h2d_pinned_bytes_per_second");
  src["h2d_pinned_bytes_per_second"] = "cudaMemcpyAsync host->device from pinned memory, one stream, CUDA events; " + by;
  p.d2h_pinned = table(m.d2h_pinned, "d2h_pinned_bytes_per_second");
  src["d2h_pinned_bytes_per_second"] = "cudaMemcpyAsync device->host to pinned memory, one stream, CUDA events; " + by;
  p.h2d_pageable = table(m.h2d_pageable, "h2d_pageable_bytes_per_second");
  src["h2d_pageable_bytes_per_second"] = "cudaMemcpyAsync host->device from pageable memory; " + by;
  p.d2h_pageable = table(m.d2h_pageable, "d2h_pageable_bytes_per_second");
  src["d2h_pageable_bytes_per_second"] = "cudaMemcpyAsync device->host to pageable memory; " + by;
  p.concurrent_bytes_per_second = m.concurrent_bytes_per_second;
  src["concurrent_bytes_per_second"] =
      fmt::format("H2D and D2H at once on two streams, pinned, {} each way, bytes of both directions / wall time "
                  "(CUDA events); {}",
                  mb(m.concurrent_copy_bytes), by);
  p.concurrent_copy_bytes = m.concurrent_copy_bytes;
  src["concurrent_copy_bytes"] = "the concurrent measurement's copy size; " + by;
  if (m.alloc_field == "engine") {
    p.malloc_free_seconds = table(m.caching_alloc_seconds, "malloc_free_seconds");
    src["malloc_free_seconds"] =
        "the engine's --slots alloc cost per upload as the compute stream sees it: allocate_aligned on the GPU "
        "through PyTorch's caching allocator on the compute stream (no fill, as the engine's alloc op since 5c64509; "
        "buffer recorded on the two copy streams as the CUDA executor does) and its release, CUDA events over a loop "
        "(steady state: the allocator reuses cached blocks, no cudaMalloc); the zero-filled variant is under "
        "calibration.caching_zeroed_seconds, the raw cudaMalloc + cudaFree pair under "
        "calibration.cuda_malloc_free_seconds; " + by;
  } else if (m.alloc_field == "cudamalloc") {
    p.malloc_free_seconds = table(m.cuda_malloc_free_seconds, "malloc_free_seconds");
    src["malloc_free_seconds"] = "cudaMalloc + cudaFree pair, host wall time; the engine's caching-allocator cost is "
                                 "under calibration.caching_alloc_seconds; " + by;
  } else {
    throw std::invalid_argument(
        fmt::format("calibration: alloc_field: expected \"engine\" or \"cudamalloc\", got \"{}\"", m.alloc_field));
  }
  for (DType dt : {DType::f16, DType::bf16, DType::f32}) {
    const std::string name(dtype_name(dt));
    auto g = m.gemm_flops_per_second.find(dt);
    if (g == m.gemm_flops_per_second.end())
      throw std::invalid_argument(fmt::format("calibration: field 'gemm_flops_per_second.{}': not measured", name));
    p.gemm_flops_per_second[dt] = g->second;
    src["gemm_flops_per_second." + name] =
        fmt::format("at::mm {0}x{0}x{0} {1} (2 FLOP per multiply-add; ATen's default fp32 matmul precision, as the "
                    "engine runs), CUDA events; {2}",
                    m.gemm_size, name, by);
    auto e = m.efficiency_blocks.find(dt);
    if (e == m.efficiency_blocks.end())
      throw std::invalid_argument(fmt::format("calibration: field 'forward_efficiency.{}': not measured", name));
    // The roofline charges flops / (gemm x efficiency) + 10 launches for a block forward: invert it, so the roofline
    // reproduces this measured block (and extrapolates from the largest shape measured, nearest to 66B and 175B).
    const double compute = e->second.forward_seconds - 10 * m.launch_overhead_seconds;
    const double value = compute > 0 ? e->second.forward_flops / (compute * g->second) : 1.0;
    p.forward_efficiency[dt] = std::clamp(value, 1e-6, 1.0);
    src["forward_efficiency." + name] =
        fmt::format("derived: model_block forward of the {} block shape in {}, batch {} seq {}: {:.4g} FLOP in {:.6g} s "
                    "less 10 launches of {:.3g} s, over the {} GEMM rate {:.4g} FLOP/s (clamped to (0, 1]); {}",
                    e->second.model, name, m.blocks.empty() ? 0 : m.blocks.front().batch,
                    m.blocks.empty() ? 0 : m.blocks.front().seq, e->second.forward_flops, e->second.forward_seconds,
                    m.launch_overhead_seconds, name, g->second, by);
  }
  p.device_copy_bytes_per_second = m.device_copy_bytes_per_second;
  src["device_copy_bytes_per_second"] = "device-to-device tensor copy_, bytes read + written / time; " + by;
  p.gpu_rng_samples_per_second = m.gpu_rng_samples_per_second;
  src["gpu_rng_samples_per_second"] = m.gpu_rng_how + "; " + by;
  p.launch_overhead_seconds = m.launch_overhead_seconds;
  src["launch_overhead_seconds"] =
      "many back-to-back add_ kernels on a 1-element tensor, CUDA events / count (launch-bound); " + by;
  p.host_sync_seconds = m.host_sync_seconds;
  src["host_sync_seconds"] =
      "the engine's loss read on an idle stream: stack two scalars, to(double), copy to host, item; host wall time; " + by;
  p.host_update_elements_per_second = m.host_update_elements_per_second;
  src["host_update_elements_per_second"] =
      fmt::format("the engine's CPU fused ZO pass with the pending update (zo_pass on a host fp32 block slab, {} "
                  "threads), elements / time; the engine's host master update (--wire below --master) runs this "
                  "arithmetic; {}",
                  m.host_threads, by);
  if (m.host_threads > 0) {
    p.host_update_threads = m.host_threads;
    src["host_update_threads"] = "the distinct threads the CPU fused pass ran on (cpu_pass_threads); " + by;
  }
  if (m.codec_decode_bytes_per_second > 0) {
    p.codec_decode_bytes_per_second = m.codec_decode_bytes_per_second;
    src["codec_decode_bytes_per_second"] = fmt::format(
        "wire_codec_decode_cuda on a {}-byte bf16 block of N(0, 0.02) weights, raw bytes / time (CUDA events); {}",
        m.codec_block_bytes, by);
  }
  if (m.codec_encode_bytes_per_second > 0) {
    p.codec_encode_bytes_per_second = m.codec_encode_bytes_per_second;
    src["codec_encode_bytes_per_second"] = fmt::format(
        "wire_codec_encode_cuda of a {}-byte bf16 block of N(0, 0.02) weights with its own table, raw bytes / time "
        "(CUDA events); {}",
        m.codec_block_bytes, by);
  }
  for (size_t i = 0; i < m.blocks.size(); ++i) {
    const auto& b = m.blocks[i];
    // The loader refuses a folded loop without the fold's own time (its single-shot sum needs it): refuse it here,
    // where the measurement that lacks it is named.
    if (b.resident_loop != "pending" && b.resident_loop != "folded")
      throw std::invalid_argument(fmt::format("calibration: blocks[{}] ({}): field 'resident_loop': expected \"pending\" "
                                              "or \"folded\", got \"{}\"",
                                              i, b.model, b.resident_loop));
    if (b.resident_block_seconds > 0 && b.resident_loop == "folded" && !(b.zo_fold_seconds > 0))
      throw std::invalid_argument(fmt::format("calibration: blocks[{}] ({}): field 'zo_fold_seconds': expected seconds > "
                                              "0 beside a folded resident loop, got {}",
                                              i, b.model, b.zo_fold_seconds));
    if (b.kv_heads <= 0 || b.head_dim <= 0)
      throw std::invalid_argument(fmt::format("calibration: blocks[{}] ({}): expected kv_heads and head_dim > 0, got {}, "
                                              "{}", i, b.model, b.kv_heads, b.head_dim));
    sim::BlockTiming t;
    t.family = b.family;
    t.hidden = b.hidden;
    t.ffn = b.ffn;
    t.heads = b.heads;
    t.kv_heads = b.kv_heads;
    t.head_dim = b.head_dim;
    t.dtype = b.dtype;
    t.batch = b.batch;
    t.seq = b.seq;
    t.forward_seconds = b.forward_seconds;
    t.zo_update_seconds = b.zo_update_seconds;
    t.zo_perturb_seconds = b.zo_perturb_seconds;
    t.zo_fold_seconds = b.zo_fold_seconds;
    t.resident_block_seconds = b.resident_block_seconds;
    t.resident_loop = b.resident_loop == "folded" ? sim::ResidentLoop::folded : sim::ResidentLoop::pending;
    t.source = fmt::format("{} block (ParamSlab of block 0, normal(0, 0.02)): model_block forward, zo_pass with the "
                           "pending update (zo_update) and without (zo_perturb){}, CUDA events",
                           b.model, b.zo_fold_seconds > 0 ? ", the folded restore (zo_fold)" : "");
    if (b.resident_block_seconds > 0)
      t.source += fmt::format("; resident_block_seconds: {} over {} blocks in their own slabs, in order, back to back "
                              "for {:.1f} s after 1 s of the same load, per block (median of 0.5 s windows)",
                              b.resident_loop == "folded" ? "zo+ (+eps only), fwd+, zo-, fwd-, zo= folded (restore "
                                                            "and this step's update)"
                                                          : "zo+ (pending update and +eps), fwd+, zo-, fwd-, zo=",
                              b.resident_slabs, b.resident_seconds);
    t.source += "; " + by;
    p.block_timings.push_back(t);
  }
  for (size_t i = 0; i < m.model_timings.size(); ++i) {
    const auto& mt = m.model_timings[i];
    if (mt.hidden <= 0 || mt.vocab <= 0 || mt.proj <= 0)
      throw std::invalid_argument(fmt::format("calibration: model_timings[{}] ({}): expected its shape (hidden, vocab, "
                                              "word_embed_proj_dim > 0), got {}, {}, {}",
                                              i, mt.model, mt.hidden, mt.vocab, mt.proj));
    sim::ModelTiming t;
    t.family = mt.family;
    t.hidden = mt.hidden;
    t.vocab = mt.vocab;
    t.proj = mt.proj;
    t.dtype = mt.dtype;
    t.batch = mt.batch;
    t.seq = mt.seq;
    t.embed_seconds = mt.embed_seconds;
    t.head_loss_seconds = mt.head_loss_seconds;
    t.source = fmt::format("{} resident group (normal(0, 0.02)): model_embed (embed_seconds) and causal_lm_loss "
                           "(final norm, logits, fp32 loss: head_loss_seconds) on random hidden states, CUDA events; {}",
                           mt.model, by);
    p.model_timings.push_back(t);
  }

  // Not read by the simulator: what was measured beside the profile's fields.
  using nlohmann::json;
  json rec;
  rec["commit"] = m.commit;
  rec["alloc_field"] = m.alloc_field;
  if (m.codec_block_bytes > 0) rec["codec_block_bytes"] = m.codec_block_bytes;
  auto pts = [](const SizePoints& v) {
    json a = json::array();
    for (const auto& [x, y] : v) a.push_back({x, y});
    return a;
  };
  rec["cuda_malloc_free_seconds"] = pts(m.cuda_malloc_free_seconds);
  rec["caching_alloc_seconds"] = pts(m.caching_alloc_seconds);
  rec["caching_zeroed_seconds"] = pts(m.caching_zeroed_seconds);
  json blocks = json::array();
  for (const auto& b : m.blocks)
    blocks.push_back({{"model", b.model}, {"dtype", std::string(dtype_name(b.dtype))}, {"slab_bytes", b.slab_bytes},
                      {"params", b.params}, {"forward_flops", b.forward_flops},
                      {"forward_tflops", b.forward_seconds > 0 ? b.forward_flops / b.forward_seconds / 1e12 : 0.0},
                      {"zo_update_GBps", b.zo_update_seconds > 0 ? 2.0 * b.slab_bytes / b.zo_update_seconds / 1e9 : 0.0},
                      {"zo_perturb_GBps",
                       b.zo_perturb_seconds > 0 ? 2.0 * b.slab_bytes / b.zo_perturb_seconds / 1e9 : 0.0},
                      {"zo_fold_seconds", b.zo_fold_seconds},
                      {"zo_fold_GBps", b.zo_fold_seconds > 0 ? 2.0 * b.slab_bytes / b.zo_fold_seconds / 1e9 : 0.0},
                      {"isolated_block_seconds", b.isolated_block_seconds()},  // of the loop below's composition
                      {"resident_loop", b.resident_loop},
                      {"resident_block_seconds", b.resident_block_seconds},
                      {"one_slab_block_seconds", b.one_slab_block_seconds}});
  rec["blocks"] = blocks;
  json models = json::array();
  for (const auto& t : m.model_timings)
    models.push_back({{"model", t.model}, {"dtype", std::string(dtype_name(t.dtype))}, {"batch", t.batch},
                      {"seq", t.seq}, {"embed_seconds", t.embed_seconds}, {"head_loss_seconds", t.head_loss_seconds},
                      {"head_forward_flops", t.head_forward_flops}});
  rec["models"] = models;
  p.calibration = rec.dump();
  return p;
}

nlohmann::json calibration_profile_json(const CalibrationMeasurements& m) {
  return sim::profile_to_json(profile_from_calibration(m));
}

}  // namespace zo2
