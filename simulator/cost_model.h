// What each op costs on a hardware profile (the link's rates are applied by the link model, the rest here).
//
//   upload / download  bytes at the one-way rate for the copy size (pinned or pageable table); when both
//                      directions are busy each runs at its one-way rate x the profile's concurrent factor
//                      (re-rated whenever the other direction starts or stops; see link.h).
//   zo passes, replay  measured block_timings when present, else the roofline below (one kernel each).
//   forward            measured forward_seconds when present, else the roofline (10 kernels).
//   embed, head        roofline (2 and 4 kernels).
//     roofline         max(flops / (gemm rate[dtype] x forward efficiency[dtype]), mem_bytes / device copy rate,
//                      rng_samples / GPU RNG rate) + kernels x launch overhead.
//   alloc              cudaMalloc + cudaFree latency for the slot size (the pair is charged at the alloc).
//   free               0 (its latency is in the alloc's pair).
//   host_update        elements / host update rate.
//   loss               host sync latency.
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
  const HardwareProfile& p_;
  const BlockTiming* timing_ = nullptr;
  double flops_rate_ = 0, concurrent_factor_ = 1;
};

}  // namespace zo2::sim
