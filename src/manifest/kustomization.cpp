#include "flywheel/manifest/kustomization.h"

#include <yaml-cpp/yaml.h>

#include <initializer_list>
#include <optional>

#include "documents.h"
#include "flywheel/manifest/image_edit.h"
#include "flywheel/manifest/order.h"
#include "json_fields.h"
#include "kustomize.h"
#include "scope.h"

namespace flywheel::manifest {
namespace {

using nlohmann::json;

constexpr std::string_view kApiVersion = "kustomize.config.k8s.io/v1beta1";

int LineOf(const YAML::Node& node) { return node.Mark().is_null() ? 0 : node.Mark().line + 1; }

// Reads the fields of one kustomization, reporting problems at their line.
class KustomizationReader {
 public:
  KustomizationReader(const std::string& file, Diagnostics& diags) : file_(file), diags_(diags) {}

  void Read(const YAML::Node& root, ParsedKustomization& out) {
    if (!root.IsMap()) {
      Error(root, "a kustomization must be a mapping");
      return;
    }
    Kustomization& k = out.kustomization;
    for (const auto& kv : root) {
      const YAML::Node& value = kv.second;
      std::string field = kv.first.IsScalar() ? kv.first.Scalar() : "";
      if (field == "apiVersion") {
        Expect(value, "apiVersion", kApiVersion);
      } else if (field == "kind") {
        Expect(value, "kind", "Kustomization");
      } else if (field == "metadata") {
        // Allowed and ignored: kustomize does not apply it to any output either.
      } else if (field == "resources") {
        for (const YAML::Node& item : Sequence(value, "resources")) {
          std::optional<std::string> r = String(item, "a resources entry");
          if (r && r->empty()) Error(item, "a resources entry is empty");
          if (!r || r->empty()) continue;
          k.resources.push_back(*r);
          out.resource_lines.push_back(LineOf(item));
        }
      } else if (field == "namespace") {
        if (auto ns = String(value, "namespace")) k.ns = *ns;
      } else if (field == "commonLabels") {
        Kustomization::LabelSet set{.include_selectors = true, .include_templates = true};
        ReadPairs(value, "commonLabels", set.pairs);
        k.labels.push_back(std::move(set));
      } else if (field == "labels") {
        for (const YAML::Node& item : Sequence(value, "labels")) ReadLabelSet(item, k);
      } else if (field == "images") {
        for (const YAML::Node& item : Sequence(value, "images")) ReadImage(item, k);
      } else {
        Error(kv.first, "field \"" + field +
                            "\" is not supported (supported: resources, namespace, labels, "
                            "commonLabels, images)");
      }
    }
  }

 private:
  void Error(const YAML::Node& at, std::string text) { diags_.Add(file_, LineOf(at), text); }

  void Expect(const YAML::Node& value, const char* field, std::string_view expected) {
    if (!value.IsScalar() || value.Scalar() != expected) {
      Error(value, std::string(field) + " must be " + std::string(expected));
    }
  }

  // The elements of a sequence field; none (and an error unless null) otherwise.
  std::vector<YAML::Node> Sequence(const YAML::Node& value, const std::string& field) {
    std::vector<YAML::Node> items;
    if (value.IsNull()) return items;
    if (!value.IsSequence()) {
      Error(value, field + " must be a list");
      return items;
    }
    for (const YAML::Node& item : value) items.push_back(item);
    return items;
  }

  // A scalar's text as a string (kustomize reads these fields as strings, so `newTag: 1.2`
  // is "1.2"); "" for null.
  std::optional<std::string> String(const YAML::Node& value, const std::string& what) {
    if (value.IsNull()) return std::string();
    if (value.IsScalar()) return value.Scalar();
    Error(value, what + " must be a string");
    return std::nullopt;
  }

  std::optional<bool> Bool(const YAML::Node& value, const std::string& what) {
    if (value.IsScalar() && value.Tag() == "?") {
      if (value.Scalar() == "true") return true;
      if (value.Scalar() == "false") return false;
    }
    Error(value, what + " must be true or false");
    return std::nullopt;
  }

  void ReadPairs(const YAML::Node& value, const std::string& what,
                 std::map<std::string, std::string>& pairs) {
    if (value.IsNull()) return;
    if (!value.IsMap()) {
      Error(value, what + " must be a mapping of label names to values");
      return;
    }
    for (const auto& kv : value) {
      std::optional<std::string> key = String(kv.first, what + " key");
      std::optional<std::string> v = String(kv.second, what + " value");
      if (key && v) pairs[*key] = *v;
    }
  }

  // Calls `on_field(name, value)` for each field of a list entry that must be a mapping.
  template <typename F>
  bool ForEachField(const YAML::Node& entry, const std::string& what, F on_field) {
    if (!entry.IsMap()) {
      Error(entry, what + " must be a mapping");
      return false;
    }
    for (const auto& kv : entry) {
      on_field(kv.first.IsScalar() ? kv.first.Scalar() : "", kv.first, kv.second);
    }
    return true;
  }

  void ReadLabelSet(const YAML::Node& entry, Kustomization& k) {
    Kustomization::LabelSet set;
    bool ok =
        ForEachField(entry, "a labels entry",
                     [&](const std::string& name, const YAML::Node& key, const YAML::Node& value) {
                       if (name == "pairs") {
                         ReadPairs(value, "labels pairs", set.pairs);
                       } else if (name == "includeSelectors") {
                         set.include_selectors = Bool(value, "includeSelectors").value_or(false);
                       } else if (name == "includeTemplates") {
                         set.include_templates = Bool(value, "includeTemplates").value_or(false);
                       } else {
                         Error(key, "labels entry field \"" + name +
                                        "\" is not supported (supported: pairs, includeSelectors, "
                                        "includeTemplates)");
                       }
                     });
    if (ok) k.labels.push_back(std::move(set));
  }

  void ReadImage(const YAML::Node& entry, Kustomization& k) {
    ImageOverride image;
    bool ok = ForEachField(
        entry, "an images entry",
        [&](const std::string& name, const YAML::Node& key, const YAML::Node& value) {
          std::string* target = name == "name"      ? &image.name
                                : name == "newName" ? &image.new_name
                                : name == "newTag"  ? &image.new_tag
                                : name == "digest"  ? &image.digest
                                                    : nullptr;
          if (target == nullptr) {
            Error(key, "images entry field \"" + name +
                           "\" is not supported (supported: name, newName, newTag, digest)");
            return;
          }
          if (auto s = String(value, "images " + name)) *target = *s;
        });
    if (!ok) return;
    if (image.name.empty()) {
      Error(entry, "an images entry has no name");
      return;
    }
    k.images.push_back(std::move(image));
  }

  const std::string& file_;
  Diagnostics& diags_;
};

bool ApplyToContainers(json& pod_spec, const ImageOverride& o) {
  bool changed = false;
  for (const char* list : {"containers", "initContainers", "ephemeralContainers"}) {
    auto it = pod_spec.find(list);
    if (it == pod_spec.end() || !it->is_array()) continue;
    for (json& container : *it) {
      auto image = container.find("image");
      if (image == container.end() || !image->is_string()) continue;
      auto [name, rest] = SplitImage(image->get<std::string>());
      if (name != o.name) continue;
      std::string updated = o.new_name.empty() ? name : o.new_name;
      if (!o.digest.empty()) {
        updated += "@" + o.digest;
      } else if (!o.new_tag.empty()) {
        updated += ":" + o.new_tag;
      } else {
        updated += rest;
      }
      if (*image != updated) {
        *image = updated;
        changed = true;
      }
    }
  }
  return changed;
}

// The object at `path` below `object`, or nullptr; with `create`, missing (or null) objects on
// the way are created.
json* At(json& object, std::initializer_list<const char*> path, bool create) {
  json* node = &object;
  for (const char* key : path) {
    if (!node->is_object()) return nullptr;
    auto it = node->find(key);
    if (it == node->end() || it->is_null()) {
      if (!create) return nullptr;
      (*node)[key] = json::object();
      it = node->find(key);
    }
    node = &*it;
  }
  return node->is_object() ? node : nullptr;
}

void AddPairs(json* labels, const std::map<std::string, std::string>& pairs) {
  if (labels == nullptr) return;
  for (const auto& [k, v] : pairs) (*labels)[k] = v;
}

// Every element of the array at `path` (none if absent).
std::vector<json*> Elements(json& object, std::initializer_list<const char*> path) {
  std::vector<json*> out;
  json* node = &object;
  for (const char* key : path) {
    if (!node->is_object()) return out;
    auto it = node->find(key);
    if (it == node->end()) return out;
    node = &*it;
  }
  if (node->is_array()) {
    for (json& e : *node) out.push_back(&e);
  }
  return out;
}

}  // namespace

bool ParseKustomizationInto(const std::string& file, const std::string& content, Diagnostics& diags,
                            ParsedKustomization& out) {
  out.kustomization.file = file;
  size_t before = diags.size();
  // Syntax errors and duplicate keys, reported the same way as for manifests.
  std::vector<Document> docs = ParseDocuments(file, content, diags);
  if (diags.size() != before) return false;
  if (docs.size() > 1) {
    diags.Add(file, docs[1].line, "a kustomization file must hold one document");
    return false;
  }
  if (docs.empty()) return true;                           // an empty kustomization lists nothing
  std::vector<YAML::Node> nodes = YAML::LoadAll(content);  // parsed fine just above
  for (const YAML::Node& node : nodes) {
    if (node.IsNull() || !node.IsDefined()) continue;
    KustomizationReader(file, diags).Read(node, out);
  }
  return diags.size() == before;
}

Result<Kustomization> ParseKustomization(const std::string& file, const std::string& content) {
  Diagnostics diags;
  ParsedKustomization parsed;
  if (!ParseKustomizationInto(file, content, diags, parsed)) return diags.ToStatus();
  return std::move(parsed.kustomization);
}

bool ApplyImages(nlohmann::json& object, const std::vector<ImageOverride>& images) {
  if (!object.is_object()) return false;
  std::vector<json*> pod_specs;
  if (StringAt(object, "kind") == "Pod") pod_specs.push_back(At(object, {"spec"}, false));
  pod_specs.push_back(At(object, {"spec", "template", "spec"}, false));
  pod_specs.push_back(At(object, {"spec", "jobTemplate", "spec", "template", "spec"}, false));
  bool changed = false;
  for (const ImageOverride& image : images) {
    for (json* spec : pod_specs) {
      if (spec != nullptr && ApplyToContainers(*spec, image)) changed = true;
    }
  }
  return changed;
}

void ApplyNamespace(nlohmann::json& object, const std::string& ns) {
  if (ns.empty() || !object.is_object()) return;
  std::string api_version = StringAt(object, "apiVersion");
  std::string kind = StringAt(object, "kind");
  std::string_view group = GroupOf(api_version);
  if (!IsKnownClusterScoped(group, kind)) {
    if (json* metadata = At(object, {"metadata"}, true)) (*metadata)["namespace"] = ns;
  }
  if (group == "rbac.authorization.k8s.io" &&
      (kind == "RoleBinding" || kind == "ClusterRoleBinding")) {
    for (json* subject : Elements(object, {"subjects"})) {
      if (subject->is_object() && StringAt(*subject, "kind") == "ServiceAccount" &&
          StringAt(*subject, "namespace") == "default") {
        (*subject)["namespace"] = ns;
      }
    }
  }
}

void ApplyLabels(nlohmann::json& object, const Kustomization::LabelSet& set) {
  if (!object.is_object() || set.pairs.empty()) return;
  AddPairs(At(object, {"metadata", "labels"}, true), set.pairs);
  std::string api_version = StringAt(object, "apiVersion");
  if (!IsBuiltinGroup(GroupOf(api_version))) return;  // no fieldSpecs for custom resources
  std::string kind = StringAt(object, "kind");
  bool workload =
      kind == "Deployment" || kind == "ReplicaSet" || kind == "DaemonSet" || kind == "StatefulSet";
  if (set.include_selectors || set.include_templates) {
    if (workload || kind == "Job" || kind == "ReplicationController") {
      AddPairs(At(object, {"spec", "template", "metadata", "labels"}, true), set.pairs);
    }
    if (kind == "CronJob") {
      AddPairs(At(object, {"spec", "jobTemplate", "metadata", "labels"}, true), set.pairs);
      AddPairs(At(object, {"spec", "jobTemplate", "spec", "template", "metadata", "labels"}, true),
               set.pairs);
    }
  }
  if (!set.include_selectors) return;
  // kustomize's commonLabels fieldSpecs (create = true only where kustomize creates them).
  if (kind == "Service" || kind == "ReplicationController") {
    AddPairs(At(object, {"spec", "selector"}, true), set.pairs);
  }
  if (workload) AddPairs(At(object, {"spec", "selector", "matchLabels"}, true), set.pairs);
  if (kind == "StatefulSet") {
    for (json* claim : Elements(object, {"spec", "volumeClaimTemplates"})) {
      AddPairs(At(*claim, {"metadata", "labels"}, true), set.pairs);
    }
  }
  if (kind == "Job" || kind == "PodDisruptionBudget") {
    AddPairs(At(object, {"spec", "selector", "matchLabels"}, false), set.pairs);
  }
  if (kind == "CronJob") {
    AddPairs(At(object, {"spec", "jobTemplate", "spec", "selector", "matchLabels"}, false),
             set.pairs);
  }
  if (kind == "NetworkPolicy") {
    AddPairs(At(object, {"spec", "podSelector", "matchLabels"}, false), set.pairs);
    for (const auto& [rules, peers] : {std::pair{"ingress", "from"}, std::pair{"egress", "to"}}) {
      for (json* rule : Elements(object, {"spec", rules})) {
        for (json* peer : Elements(*rule, {peers})) {
          AddPairs(At(*peer, {"podSelector", "matchLabels"}, false), set.pairs);
        }
      }
    }
  }
}

}  // namespace flywheel::manifest
