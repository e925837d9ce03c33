#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <stop_token>
#include <string>
#include <vector>

#include "flywheel/api/names.h"
#include "flywheel/common/status.h"
#include "flywheel/kube/client.h"
#include "flywheel/manifest/loader.h"
#include "flywheel/release/object_ref.h"

namespace flywheel::release {

// How an Applier applies one set of manifests.
struct ApplyOptions {
  std::string release_label;      // the value of api::kReleaseLabel
  std::string default_namespace;  // for namespaced objects that name none (targetNamespace)
  int concurrency = 8;            // object applies in flight at once, within a phase
  // Where to read live objects from before deciding whether to write (e.g. an informer cache);
  // returns nullptr when it does not know the object, and the Applier then GETs it.
  std::function<std::shared_ptr<const nlohmann::json>(const ObjectRef&)> live;
  std::stop_token stop;
};

// What an apply did.
struct ApplyReport {
  std::vector<ObjectRef> inventory;  // every object of the revision, in apply order
  int created = 0;
  int configured = 0;  // changed and written
  int unchanged = 0;   // the dry run equalled the live object: not written
  // Each object as the server returned it after the apply (the live one when unchanged), by
  // ObjectRef::Id(); used to remember what "in sync" looks like for drift detection.
  std::map<std::string, nlohmann::json> results;
  // Where the time went: the dry run of every object, then the phased apply.
  double dry_run_seconds = 0;
  double apply_seconds = 0;
  // CRDs of the revision the API server has not Established yet ("<file:line>: <name>"): the
  // apply stopped after the definitions phase, and is to be repeated shortly (the objects
  // applied so far are unchanged then and not rewritten). Empty when the apply went through.
  std::vector<std::string> waiting_for;
};

// Applies one revision's manifests with server-side apply (field manager "flywheel", force):
// 1. prepare every object: discovery (kind -> resource, scope), namespace defaulting, our label;
// 2. dry-run (dryRun=All) every object; if any fails, nothing is written and the error lists every
//    failure as "<file:line>: <Kind ns/name>: <server message>";
// 3. apply in phases (manifest::ApplyPhase) with bounded concurrency inside a phase; objects whose
//    dry-run result equals the live object are not written. After the definitions phase, CRDs
//    that are not Established yet end the apply (ApplyReport::waiting_for): the caller comes back
//    instead of blocking a worker while the API server establishes them.
// Objects of kinds defined by a CRD in the same revision, or in a Namespace the revision creates,
// cannot be dry-run before those exist: they are validated right before their own phase.
class Applier {
 public:
  Applier(kube::Client client, ApplyOptions options);

  Result<ApplyReport> Apply(const std::vector<manifest::Manifest>& manifests);

  // Deletes (background propagation) the objects of `previous` that are not in `current`, if they
  // still carry this release's label and are not annotated flywheel.dev/prune: disabled. Returns
  // the objects deleted; failures are listed together in the error.
  Result<std::vector<ObjectRef>> Prune(const std::vector<ObjectRef>& previous,
                                       const std::vector<ObjectRef>& current);

 private:
  struct Item;
  Status Prepare(const std::vector<manifest::Manifest>& manifests, std::vector<Item>& items);
  void DryRun(std::vector<Item>& items, const std::vector<size_t>& which,
              std::vector<std::string>& failures);
  // The CRDs of `phase` that are not Established yet.
  Result<std::vector<std::string>> NotEstablished(const std::vector<Item>& items, size_t phase);
  Result<nlohmann::json> Live(const Item& item);
  void ForEach(const std::vector<size_t>& which, const std::function<void(size_t)>& fn);

  kube::Client client_;
  ApplyOptions options_;
};

// Whether an apply would change nothing: `dry_run` (the server's answer to a dry-run apply) and
// `live` are equal once metadata.managedFields, resourceVersion and timestamps are set aside.
bool SameObject(const nlohmann::json& dry_run, const nlohmann::json& live);

}  // namespace flywheel::release
