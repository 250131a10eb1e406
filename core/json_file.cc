// JSON file I/O with clear errors.
#include "core/json_file.h"

#include <fstream>
#include <sstream>
#include <stdexcept>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/atomic_file.h"

namespace zo2 {

nlohmann::json read_json_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(fmt::format("{}: cannot open (does it exist?)", path.string()));
  std::ostringstream text;
  text << in.rdbuf();
  return parse_json_text(text.str(), path);
}

nlohmann::json parse_json_text(std::string_view text, const std::filesystem::path& path) {
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {  // parse_error, and out_of_range for a number beyond a double
    throw std::runtime_error(fmt::format("{}: not valid JSON: {}", path.string(), e.what()));
  }
}

void write_json_file_atomic(const std::filesystem::path& path, const nlohmann::json& value) {
  AtomicFile out(path);
  out.write(value.dump(2) + "\n");
  out.commit();
}

}  // namespace zo2
