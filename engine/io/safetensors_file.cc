// SafetensorsFile: header parsing and validation against the file's actual size.
#include <algorithm>
#include <cstring>
#include <stdexcept>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "engine/io/safetensors.h"
#include "engine/io/safetensors_dtype.h"

namespace zo2::io {

int64_t TensorInfo::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

namespace {

[[noreturn]] void fail(const std::filesystem::path& path, const std::string& what) {
  throw std::runtime_error(fmt::format("{}: {}", path.string(), what));
}

uint64_t read_le_u64(const std::byte* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

TensorInfo parse_entry(const std::filesystem::path& path, const std::string& name, const nlohmann::json& entry) {
  auto where = [&](const char* field) { return fmt::format("tensor '{}' field '{}'", name, field); };
  if (!entry.is_object()) fail(path, fmt::format("tensor '{}': expected a JSON object, got {}", name, entry.dump()));
  TensorInfo info;

  auto dt = entry.find("dtype");
  if (dt == entry.end() || !dt->is_string())
    fail(path, fmt::format("{}: expected a dtype string ({})", where("dtype"), safetensors_dtype_list()));
  info.dtype = dt->get<std::string>();
  auto elem = safetensors_dtype_size(info.dtype);
  if (!elem)
    fail(path, fmt::format("{}: unknown dtype '{}' (expected one of {})", where("dtype"), info.dtype,
                           safetensors_dtype_list()));

  auto sh = entry.find("shape");
  if (sh == entry.end() || !sh->is_array())
    fail(path, fmt::format("{}: expected an array of non-negative integers", where("shape")));
  // Element count and byte size with overflow checks: a corrupt shape must not wrap around into a "valid" size.
  uint64_t expected_bytes = *elem;
  for (const auto& d : *sh) {
    if (!d.is_number_unsigned())
      fail(path, fmt::format("{}: expected non-negative integers, got {}", where("shape"), sh->dump()));
    uint64_t v = d.get<uint64_t>();
    if (v > static_cast<uint64_t>(INT64_MAX) || __builtin_mul_overflow(expected_bytes, v, &expected_bytes))
      fail(path, fmt::format("{}: {} overflows a 64-bit byte count", where("shape"), sh->dump()));
    info.shape.push_back(static_cast<int64_t>(v));
  }

  auto off = entry.find("data_offsets");
  if (off == entry.end() || !off->is_array() || off->size() != 2 || !(*off)[0].is_number_unsigned() ||
      !(*off)[1].is_number_unsigned())
    fail(path, fmt::format("{}: expected [begin, end] with non-negative integers, got {}", where("data_offsets"),
                           off == entry.end() ? std::string("nothing") : off->dump()));
  info.begin = (*off)[0].get<uint64_t>();
  info.end = (*off)[1].get<uint64_t>();
  if (info.end < info.begin)
    fail(path, fmt::format("{}: end {} is before begin {}", where("data_offsets"), info.end, info.begin));
  info.bytes = info.end - info.begin;
  if (info.bytes != expected_bytes)
    fail(path, fmt::format("{}: [{}, {}] spans {} bytes, expected {} (shape {} × {} bytes for {})",
                           where("data_offsets"), info.begin, info.end, info.bytes, expected_bytes, sh->dump(), *elem,
                           info.dtype));
  return info;
}

}  // namespace

SafetensorsFile::SafetensorsFile(std::filesystem::path path) : map_(std::move(path)), path_(map_.path()) {
  parse(map_.data(), map_.size());
}

SafetensorsFile::SafetensorsFile(const std::byte* bytes, size_t size, std::filesystem::path name)
    : path_(std::move(name)) {
  parse(bytes, size);
}

void SafetensorsFile::parse(const std::byte* bytes, size_t size) {
  const auto& p = path_;
  if (size < 8)
    fail(p, fmt::format("file is {} bytes, shorter than the 8-byte header length (not a safetensors file?)", size));
  const uint64_t header_len = read_le_u64(bytes);
  if (header_len > size - 8)
    fail(p, fmt::format("header length {} (first 8 bytes, little-endian) goes beyond the file size {} "
                        "(truncated, or not a safetensors file)",
                        header_len, size));
  data_start_ = 8 + header_len;
  const char* header = reinterpret_cast<const char*>(bytes + 8);

  nlohmann::json j;
  try {
    j = nlohmann::json::parse(header, header + header_len);
  } catch (const nlohmann::json::exception& e) {  // parse_error, and out_of_range for a number beyond a double
    fail(p, fmt::format("header ({} bytes) is not valid JSON: {}", header_len, e.what()));
  }
  if (!j.is_object()) fail(p, fmt::format("header: expected a JSON object, got {}", j.type_name()));

  for (const auto& [name, entry] : j.items()) {
    if (name == "__metadata__") {
      if (!entry.is_object()) fail(p, "header field '__metadata__': expected an object of strings");
      for (const auto& [k, v] : entry.items()) {
        if (!v.is_string())
          fail(p, fmt::format("header field '__metadata__' key '{}': expected a string, got {}", k, v.dump()));
        metadata_[k] = v.get<std::string>();
      }
      continue;
    }
    tensors_.emplace(name, parse_entry(p, name, entry));
  }

  // Overlap and truncation checks over the tensors sorted by begin; empty tensors occupy no bytes.
  std::vector<std::pair<const std::string*, TensorInfo*>> order;
  for (auto& [name, info] : tensors_)
    if (info.bytes > 0) order.emplace_back(&name, &info);
  std::sort(order.begin(), order.end(), [](const auto& a, const auto& b) { return a.second->begin < b.second->begin; });
  const uint64_t data_len = size - data_start_;
  uint64_t max_end = 0;
  const std::string* max_end_name = nullptr;
  for (size_t i = 1; i < order.size(); ++i)
    if (order[i].second->begin < order[i - 1].second->end)
      fail(p, fmt::format("tensor '{}' data_offsets [{}, {}] overlap tensor '{}' [{}, {}]", *order[i].first,
                          order[i].second->begin, order[i].second->end, *order[i - 1].first,
                          order[i - 1].second->begin, order[i - 1].second->end));
  for (const auto& [name, info] : tensors_)  // empty tensors too: their pointer must stay inside the mapping
    if (info.end > max_end) {
      max_end = info.end;
      max_end_name = &name;
    }
  if (max_end > data_len)
    fail(p, fmt::format("truncated: tensor '{}' ends at data offset {} but the data region holds only {} bytes "
                        "(file {} bytes, header {} bytes)",
                        *max_end_name, max_end, data_len, size, header_len));
  for (auto& [name, info] : tensors_) info.data = bytes + data_start_ + info.begin;
}

const TensorInfo& SafetensorsFile::at(const std::string& name) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end())
    throw std::out_of_range(fmt::format("{}: no tensor named '{}' ({} tensors in the file)", path().string(), name,
                                        tensors_.size()));
  return it->second;
}

}  // namespace zo2::io
