// Recursive removal of a file or directory tree through POSIX nftw, not std::filesystem::remove_all: libtorch.so
// exports its own copy of std::filesystem, the dynamic linker binds the engine's calls to it, and its remove_all
// crashes on a non-empty directory (seen saving a checkpoint over an earlier one).
#pragma once
#include <filesystem>

namespace zo2 {

// Removes `path` and everything under it (symbolic links are removed, not followed). A missing path is not an
// error; anything else that fails throws std::runtime_error naming the entry and the reason.
void remove_tree(const std::filesystem::path& path);

}  // namespace zo2
