// SafetensorsCheckpoint: single-file and sharded model directories.
#include "engine/io/safetensors_checkpoint.h"

#include <stdexcept>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/json_file.h"

namespace zo2::io {

namespace {
constexpr const char* kSingle = "model.safetensors";
constexpr const char* kIndex = "model.safetensors.index.json";
}  // namespace

SafetensorsCheckpoint::SafetensorsCheckpoint(std::filesystem::path dir) : dir_(std::move(dir)) {
  if (!std::filesystem::is_directory(dir_))
    throw std::runtime_error(fmt::format("{}: not a directory (expected a model directory holding {} or {})",
                                         dir_.string(), kSingle, kIndex));
  const auto single = dir_ / kSingle;
  const auto index_path = dir_ / kIndex;
  if (std::filesystem::exists(single)) {
    files_.push_back(std::make_unique<SafetensorsFile>(single));
    for (const auto& [name, info] : files_.back()->tensors()) index_.emplace(name, Entry{files_.back().get(), &info});
    return;
  }
  if (!std::filesystem::exists(index_path))
    throw std::runtime_error(fmt::format("{}: neither {} nor {} found (expected a HuggingFace safetensors checkpoint)",
                                         dir_.string(), kSingle, kIndex));
  open_sharded(index_path, read_json_file(index_path), [](const std::filesystem::path& shard_path) {
    return std::filesystem::exists(shard_path) ? std::make_unique<SafetensorsFile>(shard_path) : nullptr;
  });
}

SafetensorsCheckpoint::SafetensorsCheckpoint(std::filesystem::path dir, std::string_view index_text,
                                             const ShardOpener& open_shard)
    : dir_(std::move(dir)) {
  const auto index_path = dir_ / kIndex;
  open_sharded(index_path, parse_json_text(index_text, index_path), open_shard);
}

void SafetensorsCheckpoint::open_sharded(const std::filesystem::path& index_path, const nlohmann::json& index,
                                         const ShardOpener& open_shard) {
  sharded_ = true;
  auto wm = index.is_object() ? index.find("weight_map") : index.end();
  if (wm == index.end() || !wm->is_object())
    throw std::runtime_error(
        fmt::format("{}: field 'weight_map': expected an object of tensor name → shard file name",
                    index_path.string()));

  std::map<std::string, const SafetensorsFile*> shards;  // by file name as the index spells it
  for (const auto& [name, shard_json] : wm->items()) {
    if (!shard_json.is_string())
      throw std::runtime_error(fmt::format("{}: field 'weight_map' tensor '{}': expected a shard file name, got {}",
                                           index_path.string(), name, shard_json.dump()));
    const auto shard = shard_json.get<std::string>();
    auto it = shards.find(shard);
    if (it == shards.end()) {
      const std::filesystem::path rel(shard);
      if (shard.empty() || rel.is_absolute())
        throw std::runtime_error(fmt::format("{}: field 'weight_map' tensor '{}': shard '{}' must be a file name "
                                             "relative to the model directory",
                                             index_path.string(), name, shard));
      const auto shard_path = dir_ / rel;
      auto opened = open_shard(shard_path);
      if (!opened)
        throw std::runtime_error(fmt::format("{}: shard '{}' (holding tensor '{}') is missing: {} does not exist",
                                             index_path.string(), shard, name, shard_path.string()));
      files_.push_back(std::move(opened));
      it = shards.emplace(shard, files_.back().get()).first;
    }
    const SafetensorsFile* file = it->second;
    auto t = file->tensors().find(name);
    if (t == file->tensors().end())
      throw std::runtime_error(fmt::format("{}: tensor '{}' is listed in {} but is not in that shard",
                                           file->path().string(), name, index_path.string()));
    index_.emplace(name, Entry{file, &t->second});
  }
}

const SafetensorsCheckpoint::Entry& SafetensorsCheckpoint::entry(const std::string& name) const {
  auto it = index_.find(name);
  if (it == index_.end())
    throw std::out_of_range(fmt::format("{}: checkpoint has no tensor named '{}' ({} tensors{})", dir_.string(), name,
                                        index_.size(), sharded_ ? fmt::format(" in {} shards", files_.size()) : ""));
  return it->second;
}

const TensorInfo& SafetensorsCheckpoint::at(const std::string& name) const { return *entry(name).info; }

const std::filesystem::path& SafetensorsCheckpoint::file_of(const std::string& name) const {
  return entry(name).file->path();
}

std::vector<std::string> SafetensorsCheckpoint::names() const {
  std::vector<std::string> out;
  out.reserve(index_.size());
  for (const auto& [name, e] : index_) out.push_back(name);
  return out;
}

std::string find_decoder_prefix(const SafetensorsCheckpoint& ckpt, const std::vector<std::string>& wanted,
                               const std::vector<std::string>& candidates) {
  if (wanted.empty() || candidates.empty())
    throw std::invalid_argument("find_decoder_prefix: needs at least one wanted name and one candidate prefix");
  std::string tried;
  for (const auto& prefix : candidates) {
    size_t found = 0;
    const std::string* first_missing = nullptr;
    for (const auto& name : wanted) {
      if (ckpt.contains(prefix + name))
        ++found;
      else if (!first_missing)
        first_missing = &name;
    }
    if (!first_missing) return prefix;
    tried += fmt::format("{}'{}' ({} of {} found, first missing '{}{}')", tried.empty() ? "" : ", ", prefix, found,
                         wanted.size(), prefix, *first_missing);
  }
  throw std::runtime_error(
      fmt::format("{}: no key layout holds all {} expected tensors; tried prefixes {}", ckpt.dir().string(),
                  wanted.size(), tried));
}

}  // namespace zo2::io
