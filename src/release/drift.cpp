#include "flywheel/release/drift.h"

namespace flywheel::release {

using nlohmann::json;

namespace {

json ProjectValue(const json& desired, const json& actual) {
  if (desired.is_object() && actual.is_object()) {
    json out = json::object();
    for (const auto& [key, value] : desired.items()) {
      auto it = actual.find(key);
      out[key] = it == actual.end() ? json() : ProjectValue(value, *it);
    }
    return out;
  }
  if (desired.is_array() && actual.is_array() && desired.size() == actual.size()) {
    json out = json::array();
    for (size_t i = 0; i < desired.size(); ++i) out.push_back(ProjectValue(desired[i], actual[i]));
    return out;
  }
  return actual;
}

}  // namespace

json Project(const json& desired, const json& actual) {
  if (!desired.is_object()) return ProjectValue(desired, actual);
  json top = desired;
  top.erase("status");
  return ProjectValue(top, actual);
}

}  // namespace flywheel::release
