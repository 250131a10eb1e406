// Segments of a slab layout, the unit the fused ZO passes iterate over.
#include "engine/zo_kernels.h"

namespace zo2 {

std::vector<ZoSegment> zo_segments(const SlabLayout& layout) {
  std::vector<ZoSegment> segments;
  segments.reserve(layout.entries.size());
  for (const auto& e : layout.entries) segments.push_back({e.offset, e.global_index, e.numel, e.decay ? 1 : 0});
  return segments;
}

}  // namespace zo2
