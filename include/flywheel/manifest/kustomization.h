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
// directories must hold their own kustomization, as in kustomize), namespace, labels (pairs;
// includeSelectors and includeTemplates are honoured) / commonLabels, images. Any other field
// (patches, generators, namePrefix, components, ...) is an error naming the field and the
// file:line; so is an unknown field inside a labels or images entry. apiVersion (must be
// kustomize.config.k8s.io/v1beta1), kind (Kustomization) and metadata are allowed and ignored.
// Remote resources (URLs, "github.com/...", "git@...") are errors.
//
// When loading (loader.h), inner kustomizations are applied first, then the outer ones:
// - namespace: set on every object that is not a known cluster-scoped built-in (kustomize
//   without a CRD schema does the same for custom resources), replacing any namespace written;
//   ServiceAccount subjects of (Cluster)RoleBindings in namespace "default" move with it.
// - labels: metadata.labels; with includeTemplates also the pod templates of workloads and
//   CronJobs; with includeSelectors (always for commonLabels) also the selectors, like
//   kustomize's commonLabels fieldSpecs (Service spec.selector, workload
//   spec.selector.matchLabels, StatefulSet volumeClaimTemplates; Job, CronJob,
//   PodDisruptionBudget and NetworkPolicy selectors only where present). Pod affinity label
//   selectors are not changed.
struct Kustomization {
  std::string file;  // repository-relative path of the kustomization file
  std::vector<std::string> resources;
  std::string ns;
  struct LabelSet {
    std::map<std::string, std::string> pairs;
    bool include_selectors = false;  // also selectors and pod templates (kustomize's fieldSpecs)
    bool include_templates = false;  // also pod templates (kustomize `includeTemplates`)
  };
  std::vector<LabelSet> labels;  // commonLabels becomes one LabelSet with include_selectors
  std::vector<ImageOverride> images;
};

// Parses the kustomization file `file` with `content`.
Result<Kustomization> ParseKustomization(const std::string& file, const std::string& content);

// Applies `images` to every container, initContainer and ephemeralContainer image in `object`
// (spec of a Pod, spec.template.spec of any kind, spec.jobTemplate.spec.template.spec), in list
// order. An override matches an image whose name (the part before ":tag" / "@digest"; a
// registry port is part of the name) equals `name` exactly. new_name replaces the name,
// new_tag the tag (and any digest), digest gives "name@digest". Returns whether anything
// changed.
bool ApplyImages(nlohmann::json& object, const std::vector<ImageOverride>& images);

}  // namespace flywheel::manifest
