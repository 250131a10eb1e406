// Writing .safetensors files (single and sharded as transformers' save_pretrained lays them out), each atomically.
#pragma once
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace zo2::io {

struct TensorToWrite {
  std::string name;
  std::string dtype;  // safetensors dtype string: "F32", "F16", "BF16", ...
  std::vector<int64_t> shape;
  const void* data = nullptr;  // `bytes` bytes, little-endian elements
  size_t bytes = 0;            // must equal product(shape) × dtype size
};

// transformers refuses a safetensors file whose "format" metadata is not "pt" (or tf/flax/mlx): pass this (or a map
// containing it) when the output is meant for from_pretrained.
inline std::map<std::string, std::string> pytorch_metadata() { return {{"format", "pt"}}; }

// Writes one file: 8-byte little-endian header length, compact JSON header ("__metadata__" first when non-empty, then
// the tensors in the order given) padded with spaces to an 8-byte multiple as the reference implementation does,
// then the tensors' bytes at consecutive offsets in the order given. Written under a temporary name and renamed.
// Throws std::invalid_argument naming the output file and the tensor for an empty, duplicate or reserved name, an
// unknown dtype, a negative dimension, a byte count that does not match shape × dtype size, or null data.
void write_safetensors(const std::filesystem::path& path, const std::vector<TensorToWrite>& tensors,
                       const std::map<std::string, std::string>& metadata);

// Writes `dir` (created if missing) as save_pretrained does: tensors are packed in the order given into shards of at
// most `max_shard_bytes` of tensor data (a larger tensor gets a shard of its own), named model-00001-of-0000N.safetensors,
// plus model.safetensors.index.json with {"metadata": {"total_size": sum of tensor bytes}, "weight_map": name →
// shard}. When everything fits in one shard the output is a single model.safetensors with no index, as transformers
// writes it. Every file is atomic; shards are written before the index. Afterwards, model*.safetensors files and an
// index left over from an earlier save that the new layout does not use are removed, so a stale model.safetensors
// cannot shadow a new index. Returns the files written, index last.
std::vector<std::filesystem::path> write_safetensors_sharded(const std::filesystem::path& dir,
                                                             const std::vector<TensorToWrite>& tensors,
                                                             uint64_t max_shard_bytes,
                                                             const std::map<std::string, std::string>& metadata);

}  // namespace zo2::io
