// Model sources and device names for the command line.
#include "engine/model_source.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <stdexcept>

#include "engine/checkpoint.h"
#include "engine/cuda_glue.h"

namespace zo2 {

c10::Device parse_device(const std::string& text, const std::string& flag) {
  if (text == "cpu") return c10::Device(c10::kCPU);
  if (text == "cuda" || text.rfind("cuda:", 0) == 0) {
    if (!cuda_available())
      throw std::invalid_argument(fmt::format("{} {}: no GPU is visible to this process (expected cpu)", flag, text));
    return text == "cuda" ? c10::Device(c10::kCUDA, 0) : c10::Device(text);
  }
  throw std::invalid_argument(fmt::format("{} '{}': expected cpu, cuda or cuda:N", flag, text));
}

ModelShape model_shape_of(const std::string& model, int64_t layers) {
  if (layers < 0) throw std::invalid_argument(fmt::format("--layers {}: expected a positive count", layers));
  if (is_preset_name(model)) {
    ModelShape s = model_preset(model);
    if (layers > 0) s.layers = layers;
    return s;
  }
  if (layers > 0)
    throw std::invalid_argument(fmt::format("--layers applies to presets; '{}' is a checkpoint directory", model));
  if (!std::filesystem::is_directory(model))
    throw std::invalid_argument(fmt::format("--model '{}': neither a preset ({}) nor an existing directory", model,
                                            fmt::join(model_preset_names(), ", ")));
  return shape_from_hf_config_file(std::filesystem::path(model) / "config.json");
}

OptModel load_or_init_model(const std::string& model, DType dtype, c10::Device device, uint64_t seed,
                            const std::vector<bool>& offload, int64_t layers, std::optional<DType> master,
                            std::optional<DType> wire) {
  if (dtype == DType::fp8_e4m3)
    throw std::invalid_argument("--dtype fp8: fp8 is a wire format only (expected fp32, bf16 or fp16)");
  if (is_preset_name(model)) {
    OptModel m = OptModel::allocate(model_shape_of(model, layers), dtype, device, offload, master, wire);
    m.init_random(seed);
    return m;
  }
  model_shape_of(model, layers);  // the error for a name that is neither, or --layers on a directory
  return load_opt_checkpoint(model, dtype, device, offload, master, wire);
}

}  // namespace zo2
