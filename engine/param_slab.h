// One group's parameters (a transformer block, or the resident group) in one flat buffer; tensors are views into it.
#pragma once
#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

#include "core/slab_layout.h"

namespace zo2 {

struct ParamSlab {
  SlabLayout layout;
  at::Tensor flat;                 // 1-D, layout.elements long; padding between views is zero
  std::vector<at::Tensor> views;   // one per layout entry, shaped

  // Allocates a zero-filled slab on `device` (pinned host memory when `pinned` and the device is the CPU).
  static ParamSlab allocate(const SlabLayout& layout, c10::Device device, bool pinned = false);
  // Views over an existing flat buffer (a reusable GPU slot, say); `flat` must hold layout.bytes().
  static ParamSlab over(const SlabLayout& layout, const at::Tensor& flat);

  const at::Tensor& view(const std::string& name) const;  // throws naming the tensor when absent
  bool has(const std::string& name) const;
};

// A 1-D buffer whose first element sits on a 256-byte boundary (pinned host memory when asked and the device is the
// CPU), zero-filled unless `zero` is false (device slots: every upload overwrites them whole).
at::Tensor allocate_aligned(int64_t elements, DType dtype, c10::Device device, bool pinned = false, bool zero = true);

c10::ScalarType to_scalar_type(DType dtype);
DType from_scalar_type(c10::ScalarType type);

}  // namespace zo2
