// write_safetensors and write_safetensors_sharded.
#include "engine/io/safetensors_write.h"

#include <regex>
#include <set>
#include <stdexcept>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "core/atomic_file.h"
#include "core/json_file.h"
#include "engine/io/safetensors_dtype.h"

namespace zo2::io {

namespace {

void check_tensors(const std::filesystem::path& path, const std::vector<TensorToWrite>& tensors) {
  std::set<std::string> seen;
  for (const auto& t : tensors) {
    auto bad = [&](const std::string& what) {
      throw std::invalid_argument(fmt::format("{}: tensor '{}': {}", path.string(), t.name, what));
    };
    if (t.name.empty()) bad("empty tensor name");
    if (t.name == "__metadata__") bad("the name '__metadata__' is reserved for the header's metadata");
    if (!seen.insert(t.name).second) bad("duplicate tensor name");
    auto elem = safetensors_dtype_size(t.dtype);
    if (!elem) bad(fmt::format("unknown dtype '{}' (expected one of {})", t.dtype, safetensors_dtype_list()));
    uint64_t expected = *elem;
    for (int64_t d : t.shape) {
      if (d < 0) bad(fmt::format("negative dimension in shape [{}]", fmt::join(t.shape, ", ")));
      if (__builtin_mul_overflow(expected, static_cast<uint64_t>(d), &expected))
        bad(fmt::format("shape [{}] overflows a 64-bit byte count", fmt::join(t.shape, ", ")));
    }
    if (t.bytes != expected)
      bad(fmt::format("{} bytes given, expected {} (shape [{}] × {} bytes for {})", t.bytes, expected,
                      fmt::join(t.shape, ", "), *elem, t.dtype));
    if (t.bytes > 0 && !t.data) bad("null data pointer");
  }
}

std::string shard_name(size_t i, size_t n) { return fmt::format("model-{:05d}-of-{:05d}.safetensors", i + 1, n); }

}  // namespace

void write_safetensors(const std::filesystem::path& path, const std::vector<TensorToWrite>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  check_tensors(path, tensors);
  // ordered_json keeps "__metadata__" first and the tensors in the caller's order, as the reference writes them.
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const auto& t : tensors) {
    header[t.name] = {{"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {offset, offset + t.bytes}}};
    offset += t.bytes;
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // the data region then starts at an 8-byte multiple

  unsigned char len[8];
  for (int i = 0; i < 8; ++i) len[i] = static_cast<unsigned char>(static_cast<uint64_t>(text.size()) >> (8 * i));
  AtomicFile out(path);
  out.write(len, sizeof len);
  out.write(text);
  for (const auto& t : tensors) out.write(t.data, t.bytes);
  out.commit();
}

std::vector<std::filesystem::path> write_safetensors_sharded(const std::filesystem::path& dir,
                                                             const std::vector<TensorToWrite>& tensors,
                                                             uint64_t max_shard_bytes,
                                                             const std::map<std::string, std::string>& metadata) {
  if (max_shard_bytes == 0)
    throw std::invalid_argument(fmt::format("{}: max_shard_bytes must be positive", dir.string()));
  check_tensors(dir, tensors);
  std::filesystem::create_directories(dir);

  // Greedy packing in the given order, like huggingface_hub's split_state_dict_into_shards.
  std::vector<std::vector<TensorToWrite>> shards;
  uint64_t current = 0, total = 0;
  for (const auto& t : tensors) {
    if (shards.empty() || (current + t.bytes > max_shard_bytes && current > 0)) {
      shards.emplace_back();
      current = 0;
    }
    shards.back().push_back(t);
    current += t.bytes;
    total += t.bytes;
  }
  if (shards.empty()) shards.emplace_back();  // no tensors: still a valid (empty) checkpoint

  std::vector<std::filesystem::path> written;
  if (shards.size() == 1) {
    written.push_back(dir / "model.safetensors");
    write_safetensors(written.back(), shards[0], metadata);
  } else {
    nlohmann::json weight_map = nlohmann::json::object();  // sorted by name, as transformers writes it
    for (size_t i = 0; i < shards.size(); ++i) {
      const std::string name = shard_name(i, shards.size());
      written.push_back(dir / name);
      write_safetensors(written.back(), shards[i], metadata);
      for (const auto& t : shards[i]) weight_map[t.name] = name;
    }
    written.push_back(dir / "model.safetensors.index.json");
    write_json_file_atomic(written.back(), {{"metadata", {{"total_size", total}}}, {"weight_map", weight_map}});
  }

  // Remove leftovers of an earlier save in another layout; the new files are all in place by now.
  static const std::regex kOwned(R"(model(-\d{5}-of-\d{5})?\.safetensors(\.index\.json)?)");
  std::set<std::filesystem::path> keep(written.begin(), written.end());
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    const auto name = entry.path().filename().string();
    if (entry.is_regular_file() && std::regex_match(name, kOwned) && !keep.count(entry.path()))
      std::filesystem::remove(entry.path());
  }
  return written;
}

}  // namespace zo2::io
