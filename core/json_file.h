// Reading JSON files with errors that name the file, and writing them atomically (temporary name, then rename).
#pragma once
#include <filesystem>

#include <nlohmann/json_fwd.hpp>

namespace zo2 {

nlohmann::json read_json_file(const std::filesystem::path& path);
void write_json_file_atomic(const std::filesystem::path& path, const nlohmann::json& value);

}  // namespace zo2
