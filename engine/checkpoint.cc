// Loading and saving models of every family as HuggingFace safetensors directories.
#include "engine/checkpoint.h"

#include <ATen/ATen.h>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <fcntl.h>
#include <stdio.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "core/fault_points.h"
#include "core/json_file.h"
#include "core/model_family.h"
#include "core/remove_tree.h"
#include "engine/io/safetensors_checkpoint.h"
#include "engine/io/safetensors_write.h"

namespace zo2 {
namespace {

c10::ScalarType file_scalar_type(const std::string& dtype, const std::filesystem::path& file, const std::string& name) {
  if (dtype == "F32") return at::kFloat;
  if (dtype == "F16") return at::kHalf;
  if (dtype == "BF16") return at::kBFloat16;
  throw std::runtime_error(
      fmt::format("{}: tensor '{}' has dtype {} (expected F32, F16 or BF16)", file.string(), name, dtype));
}

const char* safetensors_dtype(DType dtype) {
  switch (dtype) {
    case DType::f32: return "F32";
    case DType::f16: return "F16";
    case DType::bf16: return "BF16";
    default: throw std::invalid_argument("checkpoints hold fp32, fp16 or bf16 tensors");
  }
}

std::string torch_dtype_name(DType dtype) {
  switch (dtype) {
    case DType::f32: return "float32";
    case DType::f16: return "float16";
    default: return "bfloat16";
  }
}

void load_slab(ParamSlab& slab, const std::string& group_prefix, const io::SafetensorsCheckpoint& ckpt,
               const std::string& key_prefix) {
  for (size_t i = 0; i < slab.layout.entries.size(); ++i) {
    const SlabEntry& e = slab.layout.entries[i];
    const std::string key = ModelShape::checkpoint_key(key_prefix, group_prefix + e.name);
    const io::TensorInfo& info = ckpt.at(key);
    const auto& file = ckpt.file_of(key);
    if (info.shape != e.shape)
      throw std::runtime_error(fmt::format("{}: tensor '{}' has shape [{}] (expected [{}] from config.json)",
                                           file.string(), key, fmt::join(info.shape, ", "), fmt::join(e.shape, ", ")));
    // The mapping need not be aligned for the element type: copy the bytes into an aligned tensor first.
    at::Tensor host = at::empty(e.shape, at::TensorOptions().dtype(file_scalar_type(info.dtype, file, key)));
    std::memcpy(host.data_ptr(), info.data, info.bytes);
    slab.views[i].copy_(host.to(slab.views[i].scalar_type()));
  }
}

}  // namespace

OptModel load_opt_checkpoint(const std::filesystem::path& dir, DType dtype, c10::Device device,
                             const std::vector<bool>& offload, std::optional<DType> master,
                             std::optional<DType> wire) {
  if (!std::filesystem::is_directory(dir))
    throw std::runtime_error(fmt::format("{}: not a directory (expected a HuggingFace model directory or a preset)",
                                         dir.string()));
  const ModelShape shape = shape_from_hf_config_file(dir / "config.json");
  io::SafetensorsCheckpoint ckpt(dir);
  // The prefix is found from the decoder's tensors; tensors kept beside the decoder (LLaMA's untied lm_head) are
  // looked up by their own name, and a missing one is named with the config that asks for it.
  std::vector<std::string> wanted;
  for (const auto& t : shape.resident_tensors()) {
    if (ModelShape::checkpoint_key("model.", t.name) != t.name) {
      wanted.push_back(t.name);
    } else if (!ckpt.contains(t.name)) {
      throw std::runtime_error(fmt::format("{}: checkpoint has no tensor '{}', which {} asks for (tie_word_embeddings "
                                           "= false: expected an untied head)",
                                           dir.string(), t.name, (dir / "config.json").string()));
    }
  }
  for (int64_t l = 0; l < shape.layers; ++l)
    for (const auto& t : shape.block_tensors()) wanted.push_back(ModelShape::block_prefix(l) + t.name);
  const std::string prefix =
      io::find_decoder_prefix(ckpt, wanted, shape.desc().checkpoint_prefixes());

  if (!offload.empty() && int64_t(offload.size()) != shape.layers)
    throw std::invalid_argument(fmt::format("--offload names {} layers but {} has {}", offload.size(), dir.string(),
                                            shape.layers));
  OptModel model = OptModel::allocate(shape, dtype, device, offload, master, wire);
  load_slab(model.resident, "", ckpt, prefix);
  for (int64_t l = 0; l < shape.layers; ++l) load_slab(model.blocks[l], ModelShape::block_prefix(l), ckpt, prefix);
  model.refresh_wire();
  return model;
}

namespace {

// Puts the complete checkpoint at `fresh` in place of `final_dir`. Where the file system can, the two names are
// exchanged in one step (renameat2 RENAME_EXCHANGE), so `final_dir` names a whole checkpoint at every instant, the
// old one until the exchange and the new one after; the old one, now at `fresh`, is removed. Without an earlier
// checkpoint, or on a file system that cannot exchange, plain renames.
void swap_in(const std::filesystem::path& fresh, const std::filesystem::path& final_dir) {
  if (std::filesystem::exists(final_dir)) {
    if (::renameat2(AT_FDCWD, fresh.c_str(), AT_FDCWD, final_dir.c_str(), RENAME_EXCHANGE) == 0) {
      fault_point("save:after_swap", "checkpoint cleanup failed");
      remove_tree(fresh);
      return;
    }
    if (errno != EINVAL && errno != ENOSYS)
      throw std::runtime_error(fmt::format("{}: cannot exchange with {}: {}", final_dir.string(), fresh.string(),
                                           std::strerror(errno)));
    const std::filesystem::path old_dir = final_dir.string() + ".old";
    remove_tree(old_dir);
    std::filesystem::rename(final_dir, old_dir);
    std::filesystem::rename(fresh, final_dir);
    fault_point("save:after_swap", "checkpoint cleanup failed");
    remove_tree(old_dir);
    return;
  }
  std::filesystem::rename(fresh, final_dir);
}

}  // namespace

void save_opt_checkpoint(const OptModel& model, const std::filesystem::path& final_dir, uint64_t max_shard_bytes) {
  // The whole checkpoint is written into a sibling directory and swapped in at the end, so a failure part-way (a full
  // disk, a crash) leaves an earlier checkpoint at `final_dir` whole, never a mix of old and new files. A failure
  // that throws removes the sibling; one that kills the process leaves it, and the next save removes it first.
  const std::filesystem::path dir = final_dir.string() + ".partial";
  remove_tree(dir);
  std::filesystem::create_directories(dir);
  try {
    // Host copies of every tensor, kept alive until the writer is done.
    std::vector<at::Tensor> host;
    std::vector<io::TensorToWrite> tensors;
    auto add = [&](const ParamSlab& slab, const std::string& group_prefix) {
      for (size_t i = 0; i < slab.layout.entries.size(); ++i) {
        const SlabEntry& e = slab.layout.entries[i];
        host.push_back(slab.views[i].to(at::kCPU).contiguous());
        const at::Tensor& t = host.back();
        // transformers' own keys: the family's prefix before the name, lm_head at the top.
        tensors.push_back({ModelShape::checkpoint_key(model.shape.hf_model_prefix(), group_prefix + e.name),
                           safetensors_dtype(slab.layout.dtype), e.shape, t.data_ptr(), size_t(t.nbytes())});
      }
    };
    add(model.resident, "");
    for (size_t l = 0; l < model.blocks.size(); ++l) add(model.blocks[l], ModelShape::block_prefix(int64_t(l)));
    write_json_file_atomic(dir / "config.json", shape_to_hf_config(model.shape, torch_dtype_name(model.dtype)));
    fault_point("save:after_first_file", "checkpoint write failed");
    io::write_safetensors_sharded(dir, tensors, max_shard_bytes, io::pytorch_metadata());
    fault_point("save:before_swap", "checkpoint swap failed");
  } catch (...) {
    remove_tree(dir);
    throw;
  }
  swap_in(dir, final_dir);
}

}  // namespace zo2
