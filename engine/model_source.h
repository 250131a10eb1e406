// Where a model comes from on the command line: a preset name (random init) or a HuggingFace directory; and devices.
#pragma once
#include <optional>
#include <string>

#include "engine/opt_model.h"

namespace zo2 {

// "cpu", "cuda" or "cuda:N"; throws naming `flag` when the text is not a device or no GPU is visible.
c10::Device parse_device(const std::string& text, const std::string& flag);

// A preset ("opt-125m" ..., "llama-2-7b" ...) builds a random-init model (HF's initialisation, drawn from `seed`);
// anything else is read as a HuggingFace model directory. Blocks marked in `offload` are placed in host memory.
// `layers` > 0 keeps only the first `layers` blocks of a preset's shape (--layers: a 175B-shaped model as deep as
// host memory holds); it is refused for directories.
OptModel load_or_init_model(const std::string& model, DType dtype, c10::Device device, uint64_t seed,
                            const std::vector<bool>& offload = {}, int64_t layers = 0,
                            std::optional<DType> master = {}, std::optional<DType> wire = {});
// The shape a --model argument names (with the --layers override), without loading any weights.
ModelShape model_shape_of(const std::string& model, int64_t layers = 0);

}  // namespace zo2
