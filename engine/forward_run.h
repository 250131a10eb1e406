// `zo2 forward` as a library call: logits of a HuggingFace OPT or LLaMA model for an int64 [B, T] .npy of token ids.
#pragma once
#include <filesystem>
#include <string>

#include "core/dtype.h"

namespace zo2 {

// Writes float32 [B, T, vocab] logits to `out` (atomically). Errors name the file or flag and what was expected.
void run_forward(const std::string& model, const std::filesystem::path& input_ids, const std::filesystem::path& out,
                 const std::string& device, DType dtype);

}  // namespace zo2
