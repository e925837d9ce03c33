#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "flywheel/kube/informer.h"
#include "flywheel/kube/informer_set.h"
#include "flywheel/release/object_ref.h"

namespace flywheel::release {

// A watch on every kind Releases have applied: one informer per kind (cluster-wide, selecting
// objects that carry the flywheel.dev/release label), started in `informers` (the Manager's
// on-demand informers) the first time a Release applies that kind. It is how Releases see drift
// (self-heal) and health changes within seconds: a change of an applied object that can matter
// (see ChangeMatters) wakes the Release named in its label.
class AppliedObjects {
 public:
  // `on_change` gets the Release key ("namespace/name") of each changed object. `informers`
  // must be stopped before this is destroyed (its informers call back into it).
  AppliedObjects(kube::InformerSet& informers, std::function<void(const std::string&)> on_change);
  AppliedObjects(const AppliedObjects&) = delete;
  AppliedObjects& operator=(const AppliedObjects&) = delete;

  // Says which Release key a label value names (needed for hashed long values; short ones
  // "namespace.name" are read directly).
  void RegisterRelease(const std::string& label_value, const std::string& key);

  // Starts watching the kind of `ref` unless it is watched already.
  void Track(const ObjectRef& ref);

  // Records that a write of ours (an apply) left `ref` at `resource_version`. Until the kind's
  // cache has caught up with that write (CacheCaughtUp), Get and ResourceVersion do not answer
  // for the object: right after an apply the cache may still hold it as it was before, whose
  // content and health belong to the old spec. The ReplicaSet controller's expectations, kept
  // by resourceVersion. "" is ignored.
  void Wrote(const ObjectRef& ref, const std::string& resource_version);

  // The live object: std::nullopt when the cache cannot answer for it (the kind's cache is not
  // synced, or is behind our last write of the object: ask the server instead), nullptr when
  // the object does not exist.
  std::optional<kube::ObjectPtr> Get(const ObjectRef& ref);
  // The live object's resourceVersion without reading the object: std::nullopt as for Get, ""
  // when the object does not exist. Lets Releases re-examine only the objects that changed
  // since they last looked.
  std::optional<std::string> ResourceVersion(const ObjectRef& ref);
  // Whether the kind of `ref` is watched and its cache synced (whatever it knows of `ref`).
  bool Watching(const ObjectRef& ref);

 private:
  // The synced informer of the kind of `ref`, or null.
  kube::Informer* Synced(const ObjectRef& ref);
  // The synced informer of the kind of `ref` when its cache has caught up with our last write
  // of `ref` (forgetting that write then), else null.
  kube::Informer* Answering(const ObjectRef& ref);
  // The Release key a label value names, or "".
  std::string KeyOf(const std::string& label_value);

  kube::InformerSet& informers_;  // named "applied:group/Kind"
  std::function<void(const std::string&)> on_change_;
  std::mutex keys_mu_;
  std::map<std::string, std::string> keys_;  // label value -> Release key (RegisterRelease)
  std::mutex written_mu_;
  // "group/Kind" -> store key -> the resourceVersion our last write left (Wrote).
  std::map<std::string, std::map<std::string, std::string>> written_;
};

// Whether a cache has caught up with a write that left an object at `written`: its informer is
// synced to `synced_to` (Informer::LastSyncResourceVersion) and holds the object at
// `cached_version` ("" when it holds none). Once the informer has delivered every event up to
// the write, the cache shows the write or what came after it, a delete included. Versions the
// API server does not order (an aggregated API's own scheme) count only when the cached object
// is at exactly `written`.
bool CacheCaughtUp(const std::string& synced_to, const std::string& cached_version,
                   const std::string& written);

// Whether an update of an applied object can change what its Release decides: anything outside
// status and server-maintained metadata (drift), or its health verdict. Status churn that leaves
// the verdict alone (heartbeats, counters, timestamps) does not wake a Release.
bool ChangeMatters(const nlohmann::json& old_object, const nlohmann::json& new_object);

// The Release key ("namespace/name") named by a flywheel.dev/release label value
// ("namespace.name"); "" when malformed.
std::string ReleaseKeyOfLabel(const std::string& value);

}  // namespace flywheel::release
