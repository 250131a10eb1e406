// The model family registry: the families core/model_families.def lists, found by name or by config.json's model_type.
#include "core/model_family.h"

#include <stdexcept>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace zo2 {

#define ZO2_FAMILY(name) const ModelFamily& family_##name();
#include "core/model_families.def"
#undef ZO2_FAMILY

const std::vector<const ModelFamily*>& model_families() {
  static const std::vector<const ModelFamily*> kFamilies{
#define ZO2_FAMILY(name) &family_##name(),
#include "core/model_families.def"
#undef ZO2_FAMILY
  };
  return kFamilies;
}

const ModelFamily& model_family(const std::string& name, const std::string& where) {
  std::vector<std::string> names;
  for (const ModelFamily* f : model_families()) {
    if (f->name() == name) return *f;
    names.push_back(f->name());
  }
  throw std::invalid_argument(
      fmt::format("{}: model family '{}' is not registered (expected one of: {})", where, name, fmt::join(names, ", ")));
}

const ModelFamily* family_for_model_type(const std::string& model_type) {
  for (const ModelFamily* f : model_families())
    for (const auto& t : f->model_types())
      if (t == model_type) return f;
  return nullptr;
}

}  // namespace zo2
