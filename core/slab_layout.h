// Where each tensor of a group (one block, or the resident group) sits inside its flat slab, and which global
// element indices (the counter-based RNG's counters) it owns.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/model_shape.h"

namespace zo2 {

// Tensor views start on 256-byte boundaries, so the same kernels see the same alignment whatever the slab's address
// (needed for bitwise-equal resident and offloaded runs) and vector loads stay aligned.
constexpr int64_t kSlabAlignBytes = 256;

struct SlabEntry {
  std::string name;            // relative to the group, as in TensorSpec
  std::vector<int64_t> shape;
  int64_t offset = 0;          // elements from the slab's start
  int64_t numel = 0;
  int64_t global_index = 0;    // global element index of the first element (checkpoint order)
  bool decay = true;
  TensorInit init = TensorInit::normal;
};

struct SlabLayout {
  std::vector<SlabEntry> entries;
  int64_t elements = 0;  // padded length, in elements
  DType dtype = DType::f32;
  int64_t bytes() const { return elements * dtype_bytes(dtype); }
  int64_t params() const;  // unpadded element count
};

SlabLayout make_slab_layout(const std::vector<TensorSpec>& tensors, int64_t first_global_index, DType dtype);
// The two groups of a model, laid out for `dtype`.
SlabLayout resident_layout(const ModelShape& shape, DType dtype);
SlabLayout block_layout(const ModelShape& shape, int64_t layer, DType dtype);

}  // namespace zo2
