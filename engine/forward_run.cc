// Logits for a token file: load, check the ids, run the forward pass, write float32 .npy.
#include "engine/forward_run.h"

#include <ATen/ATen.h>
#include <fmt/format.h>

#include "engine/io/npy.h"
#include "engine/input_check.h"
#include "engine/whole_forward.h"
#include "engine/model_source.h"

namespace zo2 {

void run_forward(const std::string& model_arg, const std::filesystem::path& input_ids, const std::filesystem::path& out,
                 const std::string& device_arg, DType dtype) {
  const c10::Device device = parse_device(device_arg, "--device");
  auto ids = io::read_npy_int64(input_ids);
  if (ids.shape.size() != 2 || ids.shape[0] < 1 || ids.shape[1] < 1)
    throw std::runtime_error(fmt::format("{}: expected a non-empty 2-D [B, T] array of token ids", input_ids.string()));
  OptModel model = load_or_init_model(model_arg, dtype, device, 0);
  at::Tensor input = at::from_blob(ids.values.data(), {ids.shape[0], ids.shape[1]}, at::kLong);
  check_token_ids(input, model.shape, input_ids.string());
  at::Tensor logits = model_logits(model, input.to(device)).cpu().contiguous();
  io::write_npy_float32(out, logits.data_ptr<float>(), {logits.size(0), logits.size(1), logits.size(2)});
}

}  // namespace zo2
