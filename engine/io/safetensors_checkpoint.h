// A HuggingFace model directory's safetensors weights: model.safetensors, or shards listed in
// model.safetensors.index.json; tensors looked up by full name across shards.
#pragma once
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "engine/io/safetensors.h"

namespace zo2::io {

class SafetensorsCheckpoint {
 public:
  // Opens `dir`/model.safetensors when present (transformers prefers it too), else `dir`/model.safetensors.index.json
  // and every shard its "weight_map" names. Throws std::runtime_error naming the directory or file when neither
  // exists, the index is invalid, a shard is missing or corrupt, or a tensor the index lists is not in its shard.
  // Tensors a shard holds but the index does not list are ignored, as transformers ignores them.
  explicit SafetensorsCheckpoint(std::filesystem::path dir);
  // A shard by its path, or null when there is no such file.
  using ShardOpener = std::function<std::unique_ptr<SafetensorsFile>(const std::filesystem::path&)>;
  // The sharded case over an index already in memory (its text, named `dir`/model.safetensors.index.json in errors)
  // and shards from `open_shard` (the fuzz target's are in memory); the same checks and errors as above.
  SafetensorsCheckpoint(std::filesystem::path dir, std::string_view index_text, const ShardOpener& open_shard);

  const std::filesystem::path& dir() const { return dir_; }
  bool sharded() const { return sharded_; }
  const std::vector<std::unique_ptr<SafetensorsFile>>& files() const { return files_; }

  bool contains(const std::string& name) const { return index_.count(name) != 0; }
  // Throws std::out_of_range naming the directory and the tensor.
  const TensorInfo& at(const std::string& name) const;
  // The file holding `name` (throws like at()).
  const std::filesystem::path& file_of(const std::string& name) const;
  // All tensor names, sorted.
  std::vector<std::string> names() const;

 private:
  struct Entry {
    const SafetensorsFile* file;
    const TensorInfo* info;
  };
  const Entry& entry(const std::string& name) const;
  void open_sharded(const std::filesystem::path& index_path, const nlohmann::json& index,
                    const ShardOpener& open_shard);

  std::filesystem::path dir_;
  bool sharded_ = false;
  std::vector<std::unique_ptr<SafetensorsFile>> files_;  // stable addresses for Entry
  std::map<std::string, Entry> index_;
};

// The first of `candidates` (a model family's key prefixes found in the wild, ModelFamily::checkpoint_prefixes) under which every name of `wanted` (relative to the decoder, e.g.
// "embed_tokens.weight", "layers.0.fc1.weight") is in the checkpoint. Throws std::runtime_error naming the directory,
// every prefix tried, how many names each matched and the first missing one.
std::string find_decoder_prefix(const SafetensorsCheckpoint& ckpt, const std::vector<std::string>& wanted,
                               const std::vector<std::string>& candidates);

}  // namespace zo2::io
