// libFuzzer target: a HuggingFace config.json (OPT or LLaMA) to a model shape, then the sizes and FLOPs every user of
// the shape computes from it, and the shape written back out.
#include <nlohmann/json.hpp>

#include "core/json_file.h"
#include "core/model_shape.h"
#include "fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return zo2::fuzz::expect_clean([&] {
    const auto shape = zo2::shape_from_hf_config(zo2::parse_json_text(zo2::fuzz::text(data, size), "config.json"),
                                                 "config.json");
    volatile double sink = static_cast<double>(shape.total_params());
    for (const auto& t : shape.resident_tensors()) sink = sink + static_cast<double>(t.numel());
    for (const auto& t : shape.block_tensors()) sink = sink + static_cast<double>(t.numel());
    sink = sink + shape.block_forward_flops(1, 2048) + shape.head_forward_flops(1, 2048);
    // What the checkpoint writer saves must read back as the same shape.
    const auto again = zo2::shape_from_hf_config(zo2::shape_to_hf_config(shape, "float32"), "round trip");
    if (again.total_params() != shape.total_params() || again.family != shape.family) __builtin_trap();
  });
}
