#include "flywheel/release/applied_objects.h"

#include "flywheel/release/applier.h"

namespace flywheel::release {

namespace {

std::string LabelOf(const kube::ObjectPtr& object) {
  const auto& meta = object->value("metadata", nlohmann::json::object());
  return meta.value("labels", nlohmann::json::object()).value(kReleaseLabel, "");
}

}  // namespace

std::string ReleaseKeyOfLabel(const std::string& value) {
  // Namespaces are DNS labels (no dots), so the first dot ends the namespace.
  auto dot = value.find('.');
  if (dot == std::string::npos || dot == 0 || dot + 1 == value.size()) return "";
  return value.substr(0, dot) + "/" + value.substr(dot + 1);
}

AppliedObjects::AppliedObjects(kube::Client client,
                               std::function<void(const std::string&)> on_change)
    : client_(std::move(client)), on_change_(std::move(on_change)) {}

AppliedObjects::~AppliedObjects() { Stop(); }

void AppliedObjects::Stop() {
  stop_.request_stop();
  std::map<std::string, Watched> kinds;
  {
    std::lock_guard lock(mu_);
    kinds.swap(kinds_);
  }
  kinds.clear();  // joins the threads
}

void AppliedObjects::Track(const ObjectRef& ref) {
  std::lock_guard lock(mu_);
  if (stop_.stop_requested()) return;
  std::string key = ref.group + "/" + ref.kind;
  if (kinds_.count(key)) return;
  kube::InformerOptions options;
  options.api_version = ref.ApiVersion();
  options.kind = ref.kind;
  options.label_selector = kReleaseLabel;
  Watched& w = kinds_[key];
  w.informer = std::make_unique<kube::Informer>(client_, options);
  auto wake = [this](const kube::ObjectPtr& object) {
    std::string release = ReleaseKeyOfLabel(LabelOf(object));
    if (!release.empty()) on_change_(release);
  };
  w.informer->AddHandler({
      .on_add = wake,
      .on_update =
          [wake](const kube::ObjectPtr& old_object, const kube::ObjectPtr& new_object) {
            // A label change moves an object between Releases: both must look again.
            if (LabelOf(old_object) != LabelOf(new_object)) wake(old_object);
            wake(new_object);
          },
      .on_delete = wake,
  });
  kube::Informer* informer = w.informer.get();
  w.thread = std::jthread([informer, token = stop_.get_token()] { informer->Run(token); });
}

kube::Informer* AppliedObjects::Synced(const ObjectRef& ref) {
  kube::Informer* informer = nullptr;
  {
    std::lock_guard lock(mu_);
    auto it = kinds_.find(ref.group + "/" + ref.kind);
    if (it == kinds_.end()) return nullptr;
    informer = it->second.informer.get();
  }
  return informer->HasSynced() ? informer : nullptr;
}

std::optional<kube::ObjectPtr> AppliedObjects::Get(const ObjectRef& ref) {
  kube::Informer* informer = Synced(ref);
  if (informer == nullptr) return std::nullopt;
  return informer->store().Get(ref.ns.empty() ? ref.name : ref.ns + "/" + ref.name);
}

std::optional<std::string> AppliedObjects::ResourceVersion(const ObjectRef& ref) {
  kube::Informer* informer = Synced(ref);
  if (informer == nullptr) return std::nullopt;
  return informer->store().ResourceVersion(ref.ns.empty() ? ref.name : ref.ns + "/" + ref.name);
}

}  // namespace flywheel::release
