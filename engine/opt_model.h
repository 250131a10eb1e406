// A model of any registered family held as flat slabs: the resident group (embeddings, projections, final norm, the
// head unless tied) on the device, and one slab per transformer block, on the device or (offloaded) in pinned host memory.
#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <vector>

#include "core/model_shape.h"
#include "engine/param_slab.h"
#include "engine/wire_format.h"

namespace zo2 {

struct OptModel {
  ModelShape shape;
  DType dtype = DType::f32;
  c10::Device device = c10::Device(c10::kCPU);
  ParamSlab resident;
  std::vector<ParamSlab> blocks;
  std::vector<bool> offloaded;  // offloaded[l]: blocks[l] lives in host memory (pinned when a GPU is used)
  // Host formats of offloaded blocks: blocks[l] holds the master (--master); when the link format is below it
  // (--wire), wire[l] is the pinned copy that travels, refreshed from the master by refresh_wire().
  DType master_dtype = DType::f32, wire_dtype = DType::f32;
  std::vector<WireCopy> wire;

  // Zero-filled slabs for every group; blocks whose `offload` entry is true go to host memory (empty: none), in
  // `master` format (default: dtype), with a `wire` copy when that format is below the master.
  static OptModel allocate(const ModelShape& shape, DType dtype, c10::Device device,
                           const std::vector<bool>& offload = {}, std::optional<DType> master = {},
                           std::optional<DType> wire = {});
  bool has_wire_copies() const { return wire_dtype != master_dtype; }
  // Re-encodes every offloaded block's wire copy from its master.
  void refresh_wire();
  // HuggingFace's initialisation as the family's tensor specs state it: matrices and embeddings normal(0, 0.02),
  // biases 0, norms (LayerNorm, RMSNorm) 1 (the padding row of embed_tokens is not zeroed: it is trained like any
  // other). Drawn on the model's device from `seed` (and copied to host memory for offloaded blocks), so a 30B model initialises at GPU speed.
  void init_random(uint64_t seed);
  int64_t parameter_count() const;

  // Every slab, resident group first: the unit the ZO passes iterate over.
  std::vector<ParamSlab*> slabs();
};

}  // namespace zo2
