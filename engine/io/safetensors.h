// Reading one .safetensors file in place (mmap): 8-byte little-endian header length, JSON header, data region.
#pragma once
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "engine/io/mapped_file.h"

namespace zo2::io {

// One tensor of a safetensors file. `data` points into the file's read-only mapping and lives as long as the
// SafetensorsFile (moving the file object keeps it valid). The data region starts at an 8-byte multiple in files
// written by the reference implementation, but a tensor's own offset need not be aligned to its element size:
// copy with memcpy rather than dereferencing typed pointers.
struct TensorInfo {
  std::string dtype;           // safetensors dtype string: "F32", "F16", "BF16", ...
  std::vector<int64_t> shape;  // empty for a scalar
  const std::byte* data = nullptr;
  size_t bytes = 0;
  uint64_t begin = 0, end = 0;  // data_offsets, relative to the start of the data region

  int64_t numel() const;
};

class SafetensorsFile {
 public:
  // Maps and validates the whole header; throws std::runtime_error naming the file, the tensor or field and what
  // was expected: file shorter than 8 bytes, header length beyond the file, invalid JSON, a missing or mistyped
  // field, unknown dtype, data_offsets out of order or not matching shape × dtype size, overlapping tensors, and a
  // data region shorter than the largest end offset (truncated file). Gaps between tensors and trailing bytes are
  // accepted (they hold no tensor).
  explicit SafetensorsFile(std::filesystem::path path);
  // The same validation over a file's bytes already in memory (the fuzz targets use it); `name` stands for the file
  // in errors. Tensor data points into `bytes`, which must outlive this object.
  SafetensorsFile(const std::byte* bytes, size_t size, std::filesystem::path name);

  const std::filesystem::path& path() const { return path_; }
  const std::map<std::string, TensorInfo>& tensors() const { return tensors_; }
  // "__metadata__" (string → string), empty when the header has none.
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  // Byte offset of the data region in the file (8 + header length).
  size_t data_start() const { return data_start_; }

  bool contains(const std::string& name) const { return tensors_.count(name) != 0; }
  // Throws std::out_of_range naming the file and the tensor.
  const TensorInfo& at(const std::string& name) const;

 private:
  void parse(const std::byte* bytes, size_t size);

  MappedFile map_;  // empty for the in-memory constructor
  std::filesystem::path path_;
  size_t data_start_ = 0;
  std::map<std::string, TensorInfo> tensors_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace zo2::io
