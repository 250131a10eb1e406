// A file written under a temporary name and renamed into place on commit(), so a failure never leaves half a file.
#pragma once
#include <cstdio>
#include <filesystem>
#include <string_view>

namespace zo2 {

class AtomicFile {
 public:
  explicit AtomicFile(std::filesystem::path final_path);
  ~AtomicFile();  // removes the temporary file unless committed
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* data, size_t bytes);
  void write(std::string_view text) { write(text.data(), text.size()); }
  void commit();  // flush, fsync, rename over the final path
  const std::filesystem::path& final_path() const { return final_; }

 private:
  std::filesystem::path final_, temp_;
  std::FILE* file_ = nullptr;
  bool committed_ = false;
};

}  // namespace zo2
