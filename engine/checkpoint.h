// HuggingFace checkpoints of every family in and out: a directory with config.json and safetensors weights (single or
// sharded; keys under any of the family's prefixes, e.g. OPT's "model.decoder." or "decoder.", the rotary decoders'
// "model." or bare, with lm_head.weight at the top level).
#pragma once
#include <filesystem>
#include <optional>

#include "engine/opt_model.h"

namespace zo2 {

// Reads config.json and every tensor, checking names, shapes and dtypes (F32, F16, BF16); converts to `dtype` on
// `device` (blocks marked in `offload` into host memory). Errors name the directory or file, the tensor and what was
// expected.
OptModel load_opt_checkpoint(const std::filesystem::path& dir, DType dtype, c10::Device device,
                             const std::vector<bool>& offload = {}, std::optional<DType> master = {},
                             std::optional<DType> wire = {});

// Writes config.json and model.safetensors (sharded above `max_shard_bytes`) so transformers' from_pretrained loads
// the model back. Every file is written under a temporary name and renamed.
void save_opt_checkpoint(const OptModel& model, const std::filesystem::path& dir,
                         uint64_t max_shard_bytes = uint64_t(5) << 30);

}  // namespace zo2
