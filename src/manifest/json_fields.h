#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace flywheel::manifest {

// The string at `key` of `object`; "" when `object` is no object or the field is absent or not
// a string.
inline std::string StringAt(const nlohmann::json& object, const char* key) {
  if (!object.is_object()) return "";
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : "";
}

}  // namespace flywheel::manifest
