// Flat-slab allocation and the tensor views over it.
#include "engine/param_slab.h"

#include <ATen/ATen.h>
#include <fmt/format.h>

#include <stdexcept>

namespace zo2 {

c10::ScalarType to_scalar_type(DType dtype) {
  switch (dtype) {
    case DType::f32: return at::kFloat;
    case DType::f16: return at::kHalf;
    case DType::bf16: return at::kBFloat16;
    case DType::fp8_e4m3: return at::kFloat8_e4m3fn;
  }
  throw std::invalid_argument("unknown dtype");
}

DType from_scalar_type(c10::ScalarType type) {
  switch (type) {
    case at::kFloat: return DType::f32;
    case at::kHalf: return DType::f16;
    case at::kBFloat16: return DType::bf16;
    case at::kFloat8_e4m3fn: return DType::fp8_e4m3;
    default: throw std::invalid_argument(fmt::format("unsupported tensor dtype {}", c10::toString(type)));
  }
}

ParamSlab ParamSlab::over(const SlabLayout& layout, const at::Tensor& flat) {
  if (flat.numel() < layout.elements || flat.scalar_type() != to_scalar_type(layout.dtype))
    throw std::invalid_argument(fmt::format("slab buffer of {} {} elements cannot hold a layout of {} {} elements",
                                            flat.numel(), c10::toString(flat.scalar_type()), layout.elements,
                                            dtype_name(layout.dtype)));
  ParamSlab slab;
  slab.layout = layout;
  slab.flat = flat;
  slab.views.reserve(layout.entries.size());
  for (const auto& e : layout.entries) slab.views.push_back(flat.narrow(0, e.offset, e.numel).view(e.shape));
  return slab;
}

ParamSlab ParamSlab::allocate(const SlabLayout& layout, c10::Device device, bool pinned) {
  return over(layout, allocate_aligned(layout.elements, layout.dtype, device, pinned));
}

namespace {

// CPU allocations are only 64-byte aligned: over-allocate and start the slab on a 256-byte boundary, so a tensor view
// has the same alignment in every copy of a block (kernels then take the same paths on the same data).
at::Tensor aligned_buffer(int64_t elements, DType dtype, const at::TensorOptions& options, bool zero) {
  const int64_t elt = dtype_bytes(dtype);
  const int64_t slack = kSlabAlignBytes / elt;
  at::Tensor raw = zero ? at::zeros({elements + slack}, options) : at::empty({elements + slack}, options);
  const auto addr = reinterpret_cast<uintptr_t>(raw.data_ptr());
  const int64_t shift = int64_t((kSlabAlignBytes - addr % kSlabAlignBytes) % kSlabAlignBytes) / elt;
  return raw.narrow(0, shift, elements);
}

}  // namespace

at::Tensor allocate_aligned(int64_t elements, DType dtype, c10::Device device, bool pinned, bool zero) {
  auto options = at::TensorOptions().dtype(to_scalar_type(dtype)).device(device);
  if (pinned && device.is_cpu()) options = options.pinned_memory(true);
  try {
    return aligned_buffer(elements, dtype, options, zero);
  } catch (const std::exception& e) {  // out of memory, pinning refused: say how much of what
    throw std::runtime_error(fmt::format("allocating {} bytes of {} memory failed: {}", elements * dtype_bytes(dtype),
                                         pinned ? "pinned host" : device.str(), e.what()));
  }
}

const at::Tensor& ParamSlab::view(const std::string& name) const {
  for (size_t i = 0; i < layout.entries.size(); ++i)
    if (layout.entries[i].name == name) return views[i];
  throw std::out_of_range(fmt::format("slab has no tensor '{}'", name));
}

bool ParamSlab::has(const std::string& name) const {
  for (const auto& e : layout.entries)
    if (e.name == name) return true;
  return false;
}

}  // namespace zo2
