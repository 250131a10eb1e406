// A read-only memory map of a whole file (RAII), so checkpoint tensors are read in place instead of copied.
#pragma once
#include <cstddef>
#include <filesystem>

namespace zo2::io {

class MappedFile {
 public:
  MappedFile() = default;
  // Throws std::runtime_error naming the file when it cannot be opened, stat'ed or mapped.
  explicit MappedFile(std::filesystem::path path);
  ~MappedFile();
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const std::byte* data() const { return data_; }
  size_t size() const { return size_; }
  const std::filesystem::path& path() const { return path_; }

 private:
  void release();
  std::filesystem::path path_;
  const std::byte* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace zo2::io
