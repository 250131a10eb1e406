// Logits for a token file: load, check the ids, run the forward pass, write float32 .npy.
#include "engine/forward_run.h"

#include <ATen/ATen.h>
#include <fmt/format.h>

#include "engine/io/npy.h"
#include "engine/model_source.h"
#include "engine/model_forward.h"

namespace zo2 {

void run_forward(const std::string& model_arg, const std::filesystem::path& input_ids, const std::filesystem::path& out,
                 const std::string& device_arg, DType dtype) {
  const c10::Device device = parse_device(device_arg, "--device");
  auto ids = io::read_npy_int64(input_ids);
  if (ids.shape.size() != 2 || ids.shape[0] < 1 || ids.shape[1] < 1)
    throw std::runtime_error(fmt::format("{}: expected a non-empty 2-D [B, T] array of token ids", input_ids.string()));
  OptModel model = load_or_init_model(model_arg, dtype, device, 0);
  const ModelShape& s = model.shape;
  if (ids.shape[1] > s.max_positions)
    throw std::runtime_error(fmt::format("{}: {} tokens per row exceed the model's {} positions", input_ids.string(),
                                         ids.shape[1], s.max_positions));
  s.check_sequence(ids.shape[1], input_ids.string());
  for (size_t i = 0; i < ids.values.size(); ++i)
    if (ids.values[i] < 0 || ids.values[i] >= s.vocab_size)
      throw std::runtime_error(fmt::format("{}: token id {} at flat index {} is outside the vocabulary [0, {})",
                                           input_ids.string(), ids.values[i], i, s.vocab_size));
  at::Tensor input = at::from_blob(ids.values.data(), {ids.shape[0], ids.shape[1]}, at::kLong).to(device);
  at::Tensor h = model_embed(s, model.resident, input);
  for (const auto& block : model.blocks) h = model_block(s, block, h);
  at::Tensor logits = model_logits(s, model.resident, h).to(at::kFloat).cpu().contiguous();
  io::write_npy_float32(out, logits.data_ptr<float>(), {logits.size(0), logits.size(1), logits.size(2)});
}

}  // namespace zo2
