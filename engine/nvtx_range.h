// An RAII NVTX range (NVTX 3, header-only from the CUDA toolkit), named as the plan op it covers.
#pragma once
#include <nvtx3/nvToolsExt.h>

namespace zo2 {

class NvtxRange {
 public:
  explicit NvtxRange(const char* name) { nvtxRangePushA(name); }
  ~NvtxRange() { nvtxRangePop(); }
  NvtxRange(const NvtxRange&) = delete;
  NvtxRange& operator=(const NvtxRange&) = delete;
};

}  // namespace zo2
