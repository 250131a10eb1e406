// An OPT model held as flat slabs: the resident group (embeddings, projections, final norm, tied head) and one slab
// per transformer block, all on one device in one dtype.
#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <filesystem>
#include <vector>

#include "core/model_shape.h"
#include "engine/param_slab.h"

namespace zo2 {

struct OptModel {
  ModelShape shape;
  DType dtype = DType::f32;
  c10::Device device = c10::Device(c10::kCPU);
  ParamSlab resident;
  std::vector<ParamSlab> blocks;

  // Zero-filled slabs for every group.
  static OptModel allocate(const ModelShape& shape, DType dtype, c10::Device device);
  // HuggingFace's OPT initialisation: matrices and embeddings normal(0, 0.02), biases 0, norms 1 (the padding row
  // of embed_tokens is not zeroed: it is trained like any other). Drawn on the model's device from `seed`.
  void init_random(uint64_t seed);
  int64_t parameter_count() const;

  // Every slab, resident group first: the unit the ZO passes iterate over.
  std::vector<ParamSlab*> slabs();
};

}  // namespace zo2
