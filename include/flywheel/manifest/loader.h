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
// `root` may be written "", ".", "apps/web", "./apps/web/"; one that climbs out of the
// repository ("..") is an error.
//
// Without a kustomization file in `root`: every *.yaml, *.yml and *.json file below `root`,
// recursively, in path order; YAML files may hold many documents ("---"); empty documents are
// skipped; a JSON file holds one object or a List. A subdirectory that holds its own
// kustomization file is built with it instead (as Flux does): its other files are not loaded
// one by one, and its kustomization file is never read as a manifest.
// With `kustomization.yaml|yml` or `Kustomization` in `root`: only what it lists (see
// kustomization.h). Resources may reach outside `root` with "../" (not outside the
// repository), so pass every file of the tree those paths need, not only those below `root`.
// YAML is read with the YAML 1.2 core schema ("on"/"yes" stay strings; see
// src/manifest/documents.h for the details).
//
// `kind: List` (and `*List` with an `items` array) is expanded into its items, each with its
// own line. Every document must be a mapping with apiVersion, kind and metadata.name
// (generateName is not supported: objects are applied by name). Errors are InvalidArgument with
// "file:line: what is wrong" ("file:line:col: ..." for syntax errors), one line per problem,
// all problems in all files, sorted by file and line; this includes duplicate keys and two
// documents defining the same object (group, kind, namespace, name; after kustomize
// transforms).
Result<std::vector<Manifest>> Load(const std::vector<git::TreeFile>& files,
                                   const std::string& root);

// The identity of an object for duplicate detection and inventories: "group/kind/ns/name"
// (group "" for the core group; namespace as written, "" when absent).
std::string ObjectId(const json& object);

}  // namespace flywheel::manifest
