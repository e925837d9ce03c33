#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "flywheel/common/status.h"
#include "flywheel/git/repository_cache.h"

namespace flywheel::manifest {

using nlohmann::json;

// One Kubernetes object from the repository, with where it was written.
struct Manifest {
  json object;       // apiVersion, kind, metadata (name required), ...
  std::string file;  // repository-relative path, e.g. "apps/web/deploy.yaml"
  int line = 0;      // 1-based line where the document starts

  // "apps/web/deploy.yaml:12", for messages.
  std::string Where() const;
};

// Loads the manifests below `root` (repository-relative, "." = the whole repository) from
// `files` (as read from a tree; files outside `root` are ignored).
//
// Without a kustomization file in `root`: every *.yaml, *.yml and *.json file below `root`,
// recursively, in path order; YAML files may hold many documents ("---"); empty documents are
// skipped; a JSON file holds one object or a List.
// With `kustomization.yaml|yml` or `Kustomization` in `root`: only what it lists (see
// kustomization.h).
//
// Every document must be a mapping with apiVersion, kind and metadata.name. Errors are
// InvalidArgument with "file:line: what is wrong" (one line per problem, all problems found),
// including two documents defining the same object (group, kind, namespace, name).
Result<std::vector<Manifest>> Load(const std::vector<git::TreeFile>& files,
                                   const std::string& root);

// The identity of an object for duplicate detection and inventories: "group/kind/ns/name"
// (group "" for the core group; namespace as written, "" when absent).
std::string ObjectId(const json& object);

}  // namespace flywheel::manifest
