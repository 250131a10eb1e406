// Typed readers over one HuggingFace config.json object, shared by the model families; errors name the file and field.
#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace zo2 {

struct HfConfigFields {
  const nlohmann::json& c;
  const std::string& where;
  bool present(const char* field) const { return c.contains(field) && !c[field].is_null(); }
  // The field of `o` as a T when `is_type` accepts it, `fallback` when absent or null (or an error when `required`).
  template <typename T>
  T get(const nlohmann::json& o, const char* field, bool required, T fallback, bool (nlohmann::json::*is_type)() const,
        const char* expected) const {
    if (!o.contains(field) || o[field].is_null()) {
      if (required) throw std::invalid_argument(fmt::format("{}: missing field '{}'", where, field));
      return fallback;
    }
    if (!(o[field].*is_type)())
      throw std::invalid_argument(fmt::format("{}: field '{}' must be {}, got {}", where, field, expected, o[field].dump()));
    return o[field].get<T>();
  }
  int64_t integer(const char* field, bool required, int64_t fallback) const {
    return get<int64_t>(c, field, required, fallback, &nlohmann::json::is_number_integer, "an integer");
  }
  bool boolean(const char* field, bool fallback) const {
    return get<bool>(c, field, false, fallback, &nlohmann::json::is_boolean, "true or false");
  }
  double number(const nlohmann::json& o, const char* field, double fallback) const {
    return get<double>(o, field, false, fallback, &nlohmann::json::is_number, "a number");
  }
  std::string string(const char* field, const std::string& fallback) const {
    return get<std::string>(c, field, false, fallback, &nlohmann::json::is_string, "a string");
  }
};

}  // namespace zo2
