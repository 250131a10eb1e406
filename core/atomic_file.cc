// Temporary-name-then-rename file writing.
#include "core/atomic_file.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include <fmt/format.h>

namespace zo2 {

AtomicFile::AtomicFile(std::filesystem::path final_path) : final_(std::move(final_path)) {
  temp_ = final_;
  temp_ += fmt::format(".tmp.{}", ::getpid());
  file_ = std::fopen(temp_.c_str(), "wb");
  if (!file_)
    throw std::runtime_error(fmt::format("{}: cannot create temporary file {}: {}", final_.string(), temp_.string(),
                                         std::strerror(errno)));
}

AtomicFile::~AtomicFile() {
  if (file_) std::fclose(file_);
  if (!committed_) {
    std::error_code ignored;
    std::filesystem::remove(temp_, ignored);
  }
}

void AtomicFile::write(const void* data, size_t bytes) {
  if (bytes && std::fwrite(data, 1, bytes, file_) != bytes)
    throw std::runtime_error(fmt::format("{}: write failed: {}", temp_.string(), std::strerror(errno)));
}

void AtomicFile::commit() {
  if (std::fflush(file_) != 0 || ::fsync(::fileno(file_)) != 0)
    throw std::runtime_error(fmt::format("{}: flush failed: {}", temp_.string(), std::strerror(errno)));
  std::fclose(file_);
  file_ = nullptr;
  std::error_code ec;
  std::filesystem::rename(temp_, final_, ec);
  if (ec) throw std::runtime_error(fmt::format("{}: rename from {} failed: {}", final_.string(), temp_.string(), ec.message()));
  committed_ = true;
}

}  // namespace zo2
