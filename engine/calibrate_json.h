// zo2 calibrate's measurements as a plain struct, and the one function that turns them into a hardware profile
// (schema zo2-hardware-profile/1, simulator/README.md). Header-only and free of LibTorch and CUDA, so the simulator's
// tests can check that what calibrate writes is what the simulator's loader reads, without a GPU.
#pragma once
#include <algorithm>
#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/dtype.h"

namespace zo2 {

// (bytes, value) points, as measured; the assembler sorts them and merges equal sizes.
using SizePoints = std::vector<std::pair<double, double>>;

struct CalibrationMeasurements {
  std::string name, card, driver, date;
  std::string commit = "unknown";  // which zo2 measured (kept in the profile's calibration record)
  int64_t gpu_memory_bytes = 0, host_memory_bytes = 0;
  int repeats = 0, warmup = 0;

  // Link: bytes per second, one direction alone, by copy size.
  SizePoints h2d_pinned, d2h_pinned, h2d_pageable, d2h_pageable;
  double concurrent_bytes_per_second = 0;  // both directions at once (two streams), summed
  double concurrent_copy_bytes = 0;

  // Allocation, seconds by buffer size. Which one the profile's malloc_free_seconds holds is `alloc_field`.
  SizePoints cuda_malloc_free_seconds;  // raw cudaMalloc + cudaFree pair
  SizePoints caching_alloc_seconds;     // the engine's --slots alloc path: allocate_aligned on the device through
                                        // PyTorch's caching allocator (no fill since 5c64509) and its release
  SizePoints caching_zeroed_seconds;    // the same with a zero fill (the engine's alloc before 5c64509), for reference
  std::string alloc_field = "engine";   // "engine": caching_alloc_seconds; "cudamalloc": cuda_malloc_free_seconds

  std::map<DType, double> gemm_flops_per_second;  // large square GEMM
  int64_t gemm_size = 0;
  double device_copy_bytes_per_second = 0;        // read + written
  double gpu_rng_samples_per_second = 0;
  std::string gpu_rng_how;                        // how the rate was derived (for its source)
  double launch_overhead_seconds = 0;
  double host_sync_seconds = 0;
  double host_update_elements_per_second = 0;
  int host_threads = 0;

  struct Block {
    std::string model;
    int64_t hidden = 0, ffn = 0, heads = 0;
    std::string family = "opt";          // with kv_heads and head_dim, the rest of the block shape that keys the entry
    int64_t kv_heads = 0, head_dim = 0;
    DType dtype = DType::f16;
    int64_t batch = 0, seq = 0;
    int64_t slab_bytes = 0, params = 0;
    double forward_flops = 0;
    double forward_seconds = 0, zo_update_seconds = 0, zo_perturb_seconds = 0;
    double zo_fold_seconds = 0;  // zo= with --fold-update: +eps z, then this step's update with that z; 0: not measured
    // A resident step's block loop (zo+, fwd+, zo-, fwd-, zo=) over the model's blocks, each in its own slab, back
    // to back in steady state, per block; 0 when not measured. The same loop over one slab (diagnostic: it separates
    // a sustained-load slowdown of the GPU from one that comes with many distinct slabs) goes to the record only.
    double resident_block_seconds = 0, one_slab_block_seconds = 0;
    int64_t resident_slabs = 0;
    double resident_seconds = 0;  // how long the loop ran (timed part)
    // Which loop ran (the profile's block_timings[].resident_loop): "pending" (zo+ with the pending update, ..., zo=
    // +eps) or "folded" (zo+ +eps only, ..., zo= folded; what zo2 calibrate runs, resident blocks' default order).
    std::string resident_loop = "pending";
    // The single-shot passes of that loop, summed (the denominator of the simulator's resident factor).
    double isolated_block_seconds() const {
      return resident_loop == "folded" ? 2 * zo_perturb_seconds + zo_fold_seconds + 2 * forward_seconds
                                       : zo_update_seconds + 2 * forward_seconds + 2 * zo_perturb_seconds;
    }
  };
  std::vector<Block> blocks;  // block_timings entries (the compute dtype, every model)

  // A block forward per dtype on the largest measured block shape: sets forward_efficiency for the roofline
  // (the embedding, the head, replays and any model without block_timings: OPT-66B, OPT-175B).
  struct Efficiency {
    std::string model;
    double forward_flops = 0, forward_seconds = 0;
  };
  std::map<DType, Efficiency> efficiency_blocks;

  struct ModelTiming {
    std::string model;
    DType dtype = DType::f16;
    int64_t batch = 0, seq = 0;
    double embed_seconds = 0, head_loss_seconds = 0, head_forward_flops = 0;
    int64_t hidden = 0, vocab = 0, proj = 0;  // the shape that keys the profile's model_timings entry
    std::string family = "opt";
  };
  std::vector<ModelTiming> model_timings;  // the profile's model_timings (embed and head+loss of each model)
};

namespace calibrate_detail {

inline nlohmann::json number(double v, const std::string& source) { return {{"value", v}, {"source", source}}; }

inline nlohmann::json table(SizePoints pts, const std::string& field, const std::string& source) {
  if (pts.empty()) throw std::invalid_argument(fmt::format("calibration: field '{}': no measurements", field));
  std::sort(pts.begin(), pts.end());
  nlohmann::json out = nlohmann::json::array();
  double last = -1;
  for (const auto& [bytes, v] : pts) {
    if (!(bytes > 0) || !(v > 0))
      throw std::invalid_argument(
          fmt::format("calibration: field '{}': expected bytes > 0 and value > 0, got [{}, {}]", field, bytes, v));
    if (bytes == last) continue;  // a size measured twice (a block size equal to a listed size): keep the first
    out.push_back({bytes, v});
    last = bytes;
  }
  return {{"points", out}, {"source", source}};
}

inline std::string mb(double bytes) { return fmt::format("{:.0f} MiB", bytes / 1048576.0); }

}  // namespace calibrate_detail

// The profile JSON (schema zo2-hardware-profile/1). Every number's source says "measured by zo2 calibrate" and how;
// the raw record (both allocation costs, embed and head times, per-block FLOPs) goes under "calibration", which the
// simulator does not read.
inline nlohmann::json calibration_profile_json(const CalibrationMeasurements& m) {
  using nlohmann::json;
  namespace d = calibrate_detail;
  const std::string by = fmt::format("measured by zo2 calibrate on {} (driver {}, {}), median of {} repeats after {} "
                                     "warm-up",
                                     m.card, m.driver, m.date, m.repeats, m.warmup);
  json j;
  j["schema"] = "zo2-hardware-profile/1";
  j["name"] = m.name;
  j["card"] = m.card;
  j["driver"] = m.driver;
  j["date"] = m.date;
  j["source"] = by + fmt::format("; zo2 commit {}", m.commit);
  j["gpu_memory_bytes"] = d::number(double(m.gpu_memory_bytes), "cudaGetDeviceProperties totalGlobalMem, " + by);
  j["host_memory_bytes"] = d::number(double(m.host_memory_bytes), "sysconf(_SC_PHYS_PAGES) x page size, " + by);
  j["h2d_pinned_bytes_per_second"] =
      d::table(m.h2d_pinned, "h2d_pinned_bytes_per_second", "cudaMemcpyAsync host->device from pinned memory, one stream, "
                                                            "CUDA events; " + by);
  j["d2h_pinned_bytes_per_second"] =
      d::table(m.d2h_pinned, "d2h_pinned_bytes_per_second", "cudaMemcpyAsync device->host to pinned memory, one stream, "
                                                            "CUDA events; " + by);
  j["h2d_pageable_bytes_per_second"] =
      d::table(m.h2d_pageable, "h2d_pageable_bytes_per_second", "cudaMemcpyAsync host->device from pageable memory; " + by);
  j["d2h_pageable_bytes_per_second"] =
      d::table(m.d2h_pageable, "d2h_pageable_bytes_per_second", "cudaMemcpyAsync device->host to pageable memory; " + by);
  j["concurrent_bytes_per_second"] = d::number(
      m.concurrent_bytes_per_second,
      fmt::format("H2D and D2H at once on two streams, pinned, {} each way, bytes of both directions / wall time "
                  "(CUDA events); {}",
                  d::mb(m.concurrent_copy_bytes), by));
  j["concurrent_copy_bytes"] = d::number(m.concurrent_copy_bytes, "the concurrent measurement's copy size; " + by);
  if (m.alloc_field == "engine") {
    j["malloc_free_seconds"] = d::table(
        m.caching_alloc_seconds, "malloc_free_seconds",
        "the engine's --slots alloc cost per upload as the compute stream sees it: allocate_aligned on the GPU "
        "through PyTorch's caching allocator on the compute stream (no fill, as the engine's alloc op since 5c64509; "
        "buffer recorded on the two copy streams as the CUDA executor does) and its release, CUDA events over a loop "
        "(steady state: the allocator reuses cached blocks, no cudaMalloc); the zero-filled variant is under "
        "calibration.caching_zeroed_seconds, the raw cudaMalloc + cudaFree pair under "
        "calibration.cuda_malloc_free_seconds; " + by);
  } else if (m.alloc_field == "cudamalloc") {
    j["malloc_free_seconds"] = d::table(m.cuda_malloc_free_seconds, "malloc_free_seconds",
                                        "cudaMalloc + cudaFree pair, host wall time; the engine's caching-allocator "
                                        "cost is under calibration.caching_alloc_seconds; " + by);
  } else {
    throw std::invalid_argument(
        fmt::format("calibration: alloc_field: expected \"engine\" or \"cudamalloc\", got \"{}\"", m.alloc_field));
  }
  json gemm = json::object(), eff = json::object();
  for (DType dt : {DType::f16, DType::bf16, DType::f32}) {
    const std::string name(dtype_name(dt));
    auto g = m.gemm_flops_per_second.find(dt);
    if (g == m.gemm_flops_per_second.end())
      throw std::invalid_argument(fmt::format("calibration: field 'gemm_flops_per_second.{}': not measured", name));
    gemm[name] = d::number(g->second, fmt::format("at::mm {0}x{0}x{0} {1} (2 FLOP per multiply-add; ATen's default "
                                                  "fp32 matmul precision, as the engine runs), CUDA events; {2}",
                                                  m.gemm_size, name, by));
    auto e = m.efficiency_blocks.find(dt);
    if (e == m.efficiency_blocks.end())
      throw std::invalid_argument(fmt::format("calibration: field 'forward_efficiency.{}': not measured", name));
    // The roofline charges flops / (gemm x efficiency) + 10 launches for a block forward: invert it, so the roofline
    // reproduces this measured block (and extrapolates from the largest shape measured, nearest to 66B and 175B).
    const double compute = e->second.forward_seconds - 10 * m.launch_overhead_seconds;
    double value = compute > 0 ? e->second.forward_flops / (compute * g->second) : 1.0;
    value = std::clamp(value, 1e-6, 1.0);
    eff[name] = d::number(value, fmt::format("derived: model_block forward of the {} block shape in {}, batch {} seq {}: "
                                             "{:.4g} FLOP in {:.6g} s less 10 launches of {:.3g} s, over the {} GEMM "
                                             "rate {:.4g} FLOP/s (clamped to (0, 1]); {}",
                                             e->second.model, name, m.blocks.empty() ? 0 : m.blocks.front().batch,
                                             m.blocks.empty() ? 0 : m.blocks.front().seq, e->second.forward_flops,
                                             e->second.forward_seconds, m.launch_overhead_seconds, name, g->second, by));
  }
  j["gemm_flops_per_second"] = gemm;
  j["forward_efficiency"] = eff;
  j["device_copy_bytes_per_second"] =
      d::number(m.device_copy_bytes_per_second, "device-to-device tensor copy_, bytes read + written / time; " + by);
  j["gpu_rng_samples_per_second"] = d::number(m.gpu_rng_samples_per_second, m.gpu_rng_how + "; " + by);
  j["launch_overhead_seconds"] =
      d::number(m.launch_overhead_seconds,
                "many back-to-back add_ kernels on a 1-element tensor, CUDA events / count (launch-bound); " + by);
  j["host_sync_seconds"] = d::number(
      m.host_sync_seconds,
      "the engine's loss read on an idle stream: stack two scalars, to(double), copy to host, item; host wall time; " + by);
  j["host_update_elements_per_second"] = d::number(
      m.host_update_elements_per_second,
      fmt::format("the engine's CPU fused ZO pass with the pending update (zo_pass on a host fp32 block slab, {} "
                  "threads), elements / time; the engine's host master update (--wire below --master) runs this "
                  "arithmetic; {}",
                  m.host_threads, by));
  json bt = json::array();
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
    json e = {{"family", b.family}, {"hidden", b.hidden}, {"ffn", b.ffn}, {"heads", b.heads},
              {"kv_heads", b.kv_heads}, {"head_dim", b.head_dim}, {"dtype", std::string(dtype_name(b.dtype))},
              {"batch", b.batch}, {"seq", b.seq}, {"forward_seconds", b.forward_seconds},
              {"zo_update_seconds", b.zo_update_seconds}, {"zo_perturb_seconds", b.zo_perturb_seconds}};
    std::string source = fmt::format("{} block (ParamSlab of block 0, normal(0, 0.02)): model_block forward, zo_pass with "
                                     "the pending update (zo_update) and without (zo_perturb){}, CUDA events",
                                     b.model, b.zo_fold_seconds > 0 ? ", the folded restore (zo_fold)" : "");
    if (b.zo_fold_seconds > 0) e["zo_fold_seconds"] = b.zo_fold_seconds;
    if (b.resident_block_seconds > 0) {
      e["resident_block_seconds"] = b.resident_block_seconds;
      e["resident_loop"] = b.resident_loop;
      source += fmt::format("; resident_block_seconds: {} over {} blocks in their own slabs, in order, back to back for "
                            "{:.1f} s after 1 s of the same load, per block (median of 0.5 s windows)",
                            b.resident_loop == "folded" ? "zo+ (+eps only), fwd+, zo-, fwd-, zo= folded (restore and "
                                                          "this step's update)"
                                                        : "zo+ (pending update and +eps), fwd+, zo-, fwd-, zo=",
                            b.resident_slabs, b.resident_seconds);
    }
    e["source"] = source + "; " + by;
    bt.push_back(e);
  }
  j["block_timings"] = bt;
  json mt = json::array();
  for (size_t i = 0; i < m.model_timings.size(); ++i) {
    const auto& t = m.model_timings[i];
    if (t.hidden <= 0 || t.vocab <= 0 || t.proj <= 0)
      throw std::invalid_argument(fmt::format("calibration: model_timings[{}] ({}): expected its shape (hidden, vocab, "
                                              "word_embed_proj_dim > 0), got {}, {}, {}",
                                              i, t.model, t.hidden, t.vocab, t.proj));
    mt.push_back({{"family", t.family}, {"hidden", t.hidden}, {"vocab_size", t.vocab}, {"word_embed_proj_dim", t.proj},
                  {"dtype", std::string(dtype_name(t.dtype))}, {"batch", t.batch}, {"seq", t.seq},
                  {"embed_seconds", t.embed_seconds}, {"head_loss_seconds", t.head_loss_seconds},
                  {"source", fmt::format("{} resident group (normal(0, 0.02)): model_embed (embed_seconds) and "
                                         "causal_lm_loss (final norm, logits, fp32 loss: head_loss_seconds) on "
                                         "random hidden states, CUDA events; {}",
                                         t.model, by)}});
  }
  j["model_timings"] = mt;

  // Not read by the simulator: what was measured beside the profile's fields.
  json rec;
  rec["commit"] = m.commit;
  rec["alloc_field"] = m.alloc_field;
  auto pts = [](const SizePoints& p) {
    json a = json::array();
    for (const auto& [x, y] : p) a.push_back({x, y});
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
  j["calibration"] = rec;
  return j;
}

}  // namespace zo2
