#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "diagnostics.h"
#include "flywheel/manifest/kustomization.h"

namespace flywheel::manifest {

// A parsed kustomization with the line of each `resources` entry, for "not found" messages.
struct ParsedKustomization {
  Kustomization kustomization;
  std::vector<int> resource_lines;
};

// Parses a kustomization file, adding every problem to `diags`; false if there was any.
bool ParseKustomizationInto(const std::string& file, const std::string& content, Diagnostics& diags,
                            ParsedKustomization& out);

// The kustomization file names kustomize looks for in a directory, in its order.
inline constexpr const char* kKustomizationFileNames[] = {"kustomization.yaml", "kustomization.yml",
                                                          "Kustomization"};

// kustomize's namespace transformer: sets metadata.namespace of every object that is not a
// known cluster-scoped kind (scope.h), and the namespace of ServiceAccount subjects of
// (Cluster)RoleBindings that named the "default" namespace.
void ApplyNamespace(nlohmann::json& object, const std::string& ns);

// kustomize's label transformer for one label set (see Kustomization::LabelSet).
void ApplyLabels(nlohmann::json& object, const Kustomization::LabelSet& set);

}  // namespace flywheel::manifest
