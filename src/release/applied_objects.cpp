#include "flywheel/release/applied_objects.h"

#include "flywheel/manifest/health.h"
#include "flywheel/release/applier.h"

namespace flywheel::release {

namespace {

// The key of the kind of `ref` in written_ ("group/Kind"); its informer is "applied:" + it.
std::string KindKey(const ObjectRef& ref) { return ref.group + "/" + ref.kind; }
// The key of `ref` in its kind's Store.
std::string StoreKey(const ObjectRef& ref) {
  return ref.ns.empty() ? ref.name : ref.ns + "/" + ref.name;
}

std::string LabelOf(const kube::ObjectPtr& object) {
  const auto& meta = object->value("metadata", nlohmann::json::object());
  return meta.value("labels", nlohmann::json::object()).value(api::kReleaseLabel, "");
}

}  // namespace

std::string ReleaseKeyOfLabel(const std::string& value) {
  // Namespaces are DNS labels (no dots), so the first dot ends the namespace.
  auto dot = value.find('.');
  if (dot == std::string::npos || dot == 0 || dot + 1 == value.size()) return "";
  return value.substr(0, dot) + "/" + value.substr(dot + 1);
}

bool ChangeMatters(const nlohmann::json& old_object, const nlohmann::json& new_object) {
  static const nlohmann::json kEmpty = nlohmann::json::object();
  for (const auto* object : {&old_object, &new_object}) {
    const auto& other = object == &old_object ? new_object : old_object;
    for (const auto& [field, value] : object->items()) {
      if (field == "status") continue;
      auto there = other.find(field);
      if (field == "metadata") {
        if (there == other.end()) return true;
        for (const char* kept : {"labels", "annotations", "ownerReferences", "finalizers",
                                 "deletionTimestamp", "generation"}) {
          if (value.value(kept, kEmpty) != there->value(kept, kEmpty)) return true;
        }
        continue;
      }
      if (there == other.end() || *there != value) return true;
    }
  }
  const manifest::Health before = manifest::AssessHealth(old_object);
  const manifest::Health after = manifest::AssessHealth(new_object);
  return before.state != after.state || before.message != after.message;
}

AppliedObjects::AppliedObjects(kube::InformerSet& informers,
                               std::function<void(const std::string&)> on_change)
    : informers_(informers), on_change_(std::move(on_change)) {}

void AppliedObjects::Track(const ObjectRef& ref) {
  const std::string name = "applied:" + KindKey(ref);
  if (informers_.Find(name) != nullptr) return;
  kube::InformerOptions options;
  options.api_version = ref.ApiVersion();
  options.kind = ref.kind;
  options.label_selector = api::kReleaseLabel;
  auto wake = [this](const kube::ObjectPtr& object) {
    std::string release = KeyOf(LabelOf(object));
    if (!release.empty()) on_change_(release);
  };
  informers_.Ensure(
      name, options,
      {
          .on_add = wake,
          .on_update =
              [wake](const kube::ObjectPtr& old_object, const kube::ObjectPtr& new_object) {
                // A label change moves an object between Releases: both must look again.
                if (LabelOf(old_object) != LabelOf(new_object)) wake(old_object);
                if (ChangeMatters(*old_object, *new_object)) wake(new_object);
              },
          .on_delete = wake,
      });
}

void AppliedObjects::RegisterRelease(const std::string& label_value, const std::string& key) {
  std::lock_guard lock(keys_mu_);
  keys_[label_value] = key;
}

std::string AppliedObjects::KeyOf(const std::string& label_value) {
  {
    std::lock_guard lock(keys_mu_);
    if (auto it = keys_.find(label_value); it != keys_.end()) return it->second;
  }
  return ReleaseKeyOfLabel(label_value);
}

kube::Informer* AppliedObjects::Synced(const ObjectRef& ref) {
  kube::Informer* informer = informers_.Find("applied:" + KindKey(ref));
  return informer != nullptr && informer->HasSynced() ? informer : nullptr;
}

namespace {

// Whether an informer synced to `synced_to` has delivered every event up to `written`.
bool SyncedPast(const std::string& synced_to, const std::string& written) {
  std::optional<int> order = kube::CompareResourceVersions(synced_to, written);
  return order && *order >= 0;
}

}  // namespace

bool CacheCaughtUp(const std::string& synced_to, const std::string& cached_version,
                   const std::string& written) {
  return cached_version == written || SyncedPast(synced_to, written);
}

void AppliedObjects::Wrote(const ObjectRef& ref, const std::string& resource_version) {
  if (resource_version.empty()) return;
  const std::string kind = KindKey(ref);
  std::string synced_to;
  if (kube::Informer* informer = Synced(ref)) synced_to = informer->LastSyncResourceVersion();
  std::lock_guard lock(written_mu_);
  auto& of_kind = written_[kind];
  // Writes the cache has caught up with since are forgotten here too, so the map holds only
  // writes not yet seen, whether or not anyone reads their objects again.
  if (!synced_to.empty()) {
    std::erase_if(of_kind, [&](const auto& e) { return SyncedPast(synced_to, e.second); });
  }
  of_kind[StoreKey(ref)] = resource_version;
}

kube::Informer* AppliedObjects::Answering(const ObjectRef& ref) {
  kube::Informer* informer = Synced(ref);
  if (informer == nullptr) return nullptr;
  std::lock_guard lock(written_mu_);
  auto kind = written_.find(KindKey(ref));
  if (kind == written_.end()) return informer;
  auto written = kind->second.find(StoreKey(ref));
  if (written == kind->second.end()) return informer;
  if (!CacheCaughtUp(informer->LastSyncResourceVersion(),
                     informer->store().ResourceVersion(StoreKey(ref)), written->second)) {
    return nullptr;
  }
  kind->second.erase(written);
  return informer;
}

std::optional<kube::ObjectPtr> AppliedObjects::Get(const ObjectRef& ref) {
  kube::Informer* informer = Answering(ref);
  if (informer == nullptr) return std::nullopt;
  return informer->store().Get(StoreKey(ref));
}

std::optional<std::string> AppliedObjects::ResourceVersion(const ObjectRef& ref) {
  kube::Informer* informer = Answering(ref);
  if (informer == nullptr) return std::nullopt;
  return informer->store().ResourceVersion(StoreKey(ref));
}

bool AppliedObjects::Watching(const ObjectRef& ref) { return Synced(ref) != nullptr; }

}  // namespace flywheel::release
