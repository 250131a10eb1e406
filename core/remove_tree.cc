// remove_tree: a depth-first walk (children before their directory) that unlinks files and removes directories.
#include "core/remove_tree.h"

#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>

namespace zo2 {
namespace {

thread_local std::string g_failure;  // nftw's callback has no user pointer

int remove_entry(const char* path, const struct stat*, int type, struct FTW*) {
  const int rc = type == FTW_DP ? rmdir(path) : unlink(path);
  if (rc != 0) {
    g_failure = std::string(path) + ": " + std::strerror(errno);
    return 1;  // stop the walk
  }
  return 0;
}

}  // namespace

void remove_tree(const std::filesystem::path& path) {
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return;
    throw std::runtime_error("cannot remove " + path.string() + ": " + std::strerror(errno));
  }
  g_failure.clear();
  if (nftw(path.c_str(), remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
    throw std::runtime_error("cannot remove " + (g_failure.empty() ? path.string() : g_failure));
}

}  // namespace zo2
