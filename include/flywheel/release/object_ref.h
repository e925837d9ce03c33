#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace flywheel::release {

// A reference to one applied object, as stored in Release status.inventory.
struct ObjectRef {
  std::string group;  // "" for the core group
  std::string version;
  std::string kind;
  std::string ns;  // "" when cluster-scoped
  std::string name;

  static ObjectRef Of(const nlohmann::json& object);
  static ObjectRef FromInventory(const nlohmann::json& entry);
  nlohmann::json ToInventory() const;

  std::string ApiVersion() const { return group.empty() ? version : group + "/" + version; }
  // Identity for set operations: "group/kind/ns/name" (the version may change between commits).
  std::string Id() const { return group + "/" + kind + "/" + ns + "/" + name; }
  // For messages: "Deployment prod/web" or "ClusterRole admin".
  std::string Display() const { return kind + " " + (ns.empty() ? name : ns + "/" + name); }

  bool operator==(const ObjectRef&) const = default;
};

}  // namespace flywheel::release
