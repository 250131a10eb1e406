// Slab layouts: 256-byte-aligned tensor views and their global RNG indices.
#include "core/slab_layout.h"

namespace zo2 {

int64_t SlabLayout::params() const {
  int64_t n = 0;
  for (const auto& e : entries) n += e.numel;
  return n;
}

SlabLayout make_slab_layout(const std::vector<TensorSpec>& tensors, int64_t first_global_index, DType dtype) {
  SlabLayout layout;
  layout.dtype = dtype;
  const int64_t align = kSlabAlignBytes / dtype_bytes(dtype);
  int64_t offset = 0, global = first_global_index;
  for (const auto& t : tensors) {
    SlabEntry e{t.name, t.shape, offset, t.numel(), global, t.decay, t.init};
    layout.entries.push_back(e);
    global += e.numel;
    offset += (e.numel + align - 1) / align * align;
  }
  layout.elements = offset;
  return layout;
}

SlabLayout resident_layout(const ModelShape& shape, DType dtype) {
  return make_slab_layout(shape.resident_tensors(), 0, dtype);
}

SlabLayout block_layout(const ModelShape& shape, int64_t layer, DType dtype) {
  return make_slab_layout(shape.block_tensors(), shape.block_first_index(layer), dtype);
}

}  // namespace zo2
