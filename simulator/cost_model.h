// What each op costs on a hardware profile (the link's rates are applied by the link model, the rest here).
//
//   upload / download  bytes at the one-way rate for the copy size (pinned or pageable table); when both
//                      directions are busy each runs at its one-way rate x the profile's concurrent factor
//                      (re-rated whenever the other direction starts or stops; see link.h).
//   zo passes, replay  measured block_timings when present (a pass over the resident group: the block pass's time
//                      per element x the group's elements), else the roofline below (one kernel each). zo+ with a
//                      pending update: zo_update_seconds; zo+ perturb only, zo-, zo=: zo_perturb_seconds; zo=
//                      folded (--fold-update): zo_fold_seconds, or zo_update_seconds (an upper bound) without it.
//   forward            measured forward_seconds when present, else the roofline (10 kernels).
//   resident blocks    with block_timings[].resident_block_seconds (the resident step's block loop measured back to
//                      back over the model's slabs), a resident block's ops cost their time above x
//                      resident_block_seconds / isolated_block_seconds() (the single-shot sum of the loop's
//                      composition, block_timings[].resident_loop: pending or folded); without it, factor 1.
//   embed, head        measured model_timings (embed_seconds, head_loss_seconds) when present, else the roofline
//                      (2 and 4 kernels).
//     roofline         max(flops / (gemm rate[dtype] x forward efficiency[dtype]), mem_bytes / device copy rate,
//                      rng_samples / GPU RNG rate) + kernels x launch overhead.
//   alloc              malloc_free_seconds at the slot size: the engine's per-upload allocation and release as
//                      the compute stream sees it (the alloc sits in the compute stream's order, simulator.h).
//   free               0 (its cost is in the alloc's; it waits for its deps, the copy back among them).
//   host_update        elements / (host update rate x min(--host-threads, T) / T), T the threads the rate was
//                      measured on (profile host_update_threads; --host-threads 0: all of them, the rate itself).
//   loss               host sync latency (after the compute stream's last op, as the CUDA executor reads it).
//   decode, encode     --wire-codec lossless: the block's raw bytes / the profile's codec_decode_bytes_per_second or
//                      codec_encode_bytes_per_second, plus the launches; a plan that codes offloaded blocks on a
//                      profile without both rates is refused. The copies carry the plan's link bytes: the expected
//                      coded size up (core/plan.h wire_codec_expected_ratio), the whole staging buffer back.
#pragma once
#include "core/plan.h"
#include "simulator/profile.h"

namespace zo2::sim {

class CostModel {
 public:
  CostModel(const HardwareProfile& profile, const Plan& plan);
  // Seconds an op takes once started; copies return 0 (the link model times them).
  double seconds(const Op& op) const;
  // One-way rate of a copy in bytes per second (before sharing with the other direction).
  double link_rate(const Op& op) const;
  double concurrent_factor() const { return concurrent_factor_; }

 private:
  double roofline(const Op& op) const;
  double zo_pass(const Op& op, double block_seconds) const;
  double unscaled_seconds(const Op& op) const;
  const HardwareProfile& p_;
  const BlockTiming* timing_ = nullptr;
  const ModelTiming* model_timing_ = nullptr;
  const Plan& plan_;  // outlives the model: the simulator's run holds both
  double resident_factor_ = 1;
  double flops_rate_ = 0, concurrent_factor_ = 1;
  double host_share_ = 1;  // --host-threads' share of the threads the host update rate was measured on
};

}  // namespace zo2::sim
