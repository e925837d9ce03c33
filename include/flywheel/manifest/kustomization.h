#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "flywheel/common/status.h"

namespace flywheel::manifest {

// An image override of a kustomization's `images` list.
struct ImageOverride {
  std::string name;      // image name to match (without tag/digest)
  std::string new_name;  // optional replacement name
  std::string new_tag;   // optional replacement tag
  std::string digest;    // optional digest (wins over new_tag)
};

// The supported subset of kustomize's Kustomization (SPEC.md): resources (files or directories,
// directories may hold their own kustomization), namespace, labels (pairs; includeSelectors is
// honoured) / commonLabels, images. Any other field is an error naming the field and the
// file:line.
struct Kustomization {
  std::string file;  // repository-relative path of the kustomization file
  std::vector<std::string> resources;
  std::string ns;
  struct LabelSet {
    std::map<std::string, std::string> pairs;
    bool include_selectors = false;
  };
  std::vector<LabelSet> labels;  // commonLabels becomes one LabelSet with include_selectors
  std::vector<ImageOverride> images;
};

// Parses the kustomization file `file` with `content`.
Result<Kustomization> ParseKustomization(const std::string& file, const std::string& content);

// Applies `images` to every container and initContainer image in `object` (pod specs of
// Pods, workloads and CronJobs). Returns whether anything changed.
bool ApplyImages(nlohmann::json& object, const std::vector<ImageOverride>& images);

}  // namespace flywheel::manifest
