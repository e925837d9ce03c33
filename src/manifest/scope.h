#pragma once

#include <string>
#include <string_view>

namespace flywheel::manifest {

// The API group of an apiVersion: "apps" for "apps/v1", "" for "v1".
std::string_view GroupOf(std::string_view api_version);

// Whether `kind` of `group` is a Kubernetes built-in known to be cluster-scoped.
//
// Limitation: without discovery we cannot know the scope of every kind, so this is a fixed list
// of built-in cluster-scoped kinds; every other kind, including every custom resource, counts as
// namespaced (a kustomization `namespace` is then set on it, as kustomize does without a schema
// for the CRD).
bool IsKnownClusterScoped(std::string_view group, std::string_view kind);

}  // namespace flywheel::manifest
