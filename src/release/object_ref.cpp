#include "flywheel/release/object_ref.h"

namespace flywheel::release {

using nlohmann::json;

ObjectRef ObjectRef::Of(const json& object) {
  ObjectRef ref;
  std::string api_version = object.value("apiVersion", "");
  auto slash = api_version.find('/');
  if (slash == std::string::npos) {
    ref.version = api_version;
  } else {
    ref.group = api_version.substr(0, slash);
    ref.version = api_version.substr(slash + 1);
  }
  ref.kind = object.value("kind", "");
  const json meta = object.value("metadata", json::object());
  ref.ns = meta.value("namespace", "");
  ref.name = meta.value("name", "");
  return ref;
}

ObjectRef ObjectRef::FromInventory(const json& entry) {
  return {entry.value("group", ""), entry.value("version", ""), entry.value("kind", ""),
          entry.value("namespace", ""), entry.value("name", "")};
}

json ObjectRef::ToInventory() const {
  json entry = {{"version", version}, {"kind", kind}, {"name", name}};
  if (!group.empty()) entry["group"] = group;
  if (!ns.empty()) entry["namespace"] = ns;
  return entry;
}

}  // namespace flywheel::release
