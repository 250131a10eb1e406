// Encoding and decoding of wire copies (16-bit formats by conversion, fp8 e4m3 with per-128-element scales).
#include "engine/wire_format.h"

#include <ATen/ATen.h>

#include "core/plan.h"

namespace zo2 {

int64_t fp8_groups(int64_t elements) { return (elements + kFp8GroupElements - 1) / kFp8GroupElements; }

WireCopy allocate_wire(const SlabLayout& master_layout, DType wire, c10::Device where, bool pinned) {
  SlabLayout layout = master_layout;
  layout.dtype = wire;
  WireCopy w;
  // fp8 slabs are padded to whole scale groups so the [groups, 128] views below cover them.
  const int64_t elements = wire == DType::fp8_e4m3 ? fp8_groups(layout.elements) * kFp8GroupElements : layout.elements;
  w.slab = ParamSlab::over(layout, allocate_aligned(elements, wire, where, pinned));
  if (wire == DType::fp8_e4m3) {
    auto options = at::TensorOptions().dtype(at::kFloat).device(where);
    if (pinned && where.is_cpu()) options = options.pinned_memory(true);
    w.scales = at::ones({fp8_groups(layout.elements)}, options);
  }
  return w;
}

void encode_wire(const ParamSlab& master, WireCopy& wire) {
  if (wire.slab.layout.dtype != DType::fp8_e4m3) {
    wire.slab.flat.narrow(0, 0, master.flat.numel()).copy_(master.flat);
    return;
  }
  const int64_t groups = wire.scales.numel();
  at::Tensor padded = at::zeros({groups * kFp8GroupElements}, master.flat.options().dtype(at::kFloat));
  padded.narrow(0, 0, master.flat.numel()).copy_(master.flat);
  at::Tensor g = padded.view({groups, kFp8GroupElements});
  at::Tensor scale = g.abs().amax(1).clamp_min(1e-30) / 448.0;  // e4m3's largest finite value
  wire.slab.flat.copy_((g / scale.unsqueeze(1)).to(at::kFloat8_e4m3fn).view(-1));
  wire.scales.copy_(scale);
}

void decode_wire(const at::Tensor& wire_flat, const at::Tensor& scales, DType wire, at::Tensor& compute_flat) {
  const int64_t n = compute_flat.numel();
  if (wire != DType::fp8_e4m3) {
    compute_flat.copy_(wire_flat.narrow(0, 0, n));
    return;
  }
  at::Tensor g = wire_flat.view({scales.numel(), kFp8GroupElements}).to(at::kFloat) * scales.unsqueeze(1);
  compute_flat.copy_(g.view(-1).narrow(0, 0, n));
}

}  // namespace zo2
