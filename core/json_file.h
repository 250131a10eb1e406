// Reading JSON files with errors that name the file, and writing them atomically (temporary name, then rename).
#pragma once
#include <filesystem>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

namespace zo2 {

nlohmann::json read_json_file(const std::filesystem::path& path);
// read_json_file's parsing of a file's text already in memory (the fuzz targets use it); `path` names it in errors.
nlohmann::json parse_json_text(std::string_view text, const std::filesystem::path& path);
void write_json_file_atomic(const std::filesystem::path& path, const nlohmann::json& value);

}  // namespace zo2
