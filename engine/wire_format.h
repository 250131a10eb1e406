// The wire copy of an offloaded block when the link format is below the host master (--wire < --master): encoded
// on the host from the master, decoded on the device into the compute format. fp8 is e4m3 with one fp32 scale per
// 128 slab elements (amax / 448, so every group uses the format's full range).
#pragma once
#include <ATen/core/Tensor.h>

#include "engine/param_slab.h"

namespace zo2 {

struct WireCopy {
  ParamSlab slab;      // wire format, same layout offsets as the master (pinned host memory on GPU runs)
  at::Tensor scales;   // fp8 only: [elements / 128] fp32
  bool empty() const { return !slab.flat.defined(); }
};

WireCopy allocate_wire(const SlabLayout& master_layout, DType wire, c10::Device where, bool pinned);
// wire <- master (round to nearest; fp8 with per-group scales).
void encode_wire(const ParamSlab& master, WireCopy& wire);
// compute <- wire on the compute buffer's device (the current stream there); `wire_flat`/`scales` already there.
void decode_wire(const at::Tensor& wire_flat, const at::Tensor& scales, DType wire, at::Tensor& compute_flat);
int64_t fp8_groups(int64_t elements);

}  // namespace zo2
