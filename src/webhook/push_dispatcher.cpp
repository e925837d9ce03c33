#include "flywheel/webhook/push_dispatcher.h"

#include <spdlog/spdlog.h>

#include <set>

#include "flywheel/api/names.h"
#include "flywheel/common/background_queue.h"
#include "flywheel/common/time.h"
#include "flywheel/git/url.h"

namespace flywheel::webhook {

using nlohmann::json;

bool RefConcerns(const std::string& ref, const std::string& branch, const std::string& revision) {
  if (ref.starts_with("refs/heads/")) {
    return ref.substr(11) == (revision.empty() ? branch : revision);
  }
  if (ref.starts_with("refs/tags/")) return !revision.empty() && ref.substr(10) == revision;
  return true;
}

namespace {

// Pushes waiting for the dispatcher; a flood beyond this is dropped.
constexpr size_t kMaxQueued = 1000;

// Turns pushes into reconcile requests on a background thread, so the receiver answers at once.
class Dispatcher {
 public:
  Dispatcher(kube::Client client, std::vector<PushTarget> targets)
      : client_(std::move(client)), targets_(std::move(targets)) {}

  void Push(const GitPush& push) {
    if (!queue_.Push(push)) {
      spdlog::warn("webhook: {} pushes queued already; push dropped (the next poll catches up)",
                   kMaxQueued);
    }
  }

 private:
  void Handle(const GitPush& push) {
    std::set<std::string> keys;
    for (const auto& url : push.repo_urls) {
      if (std::string k = git::RepoKey(url); !k.empty()) keys.insert(k);
    }
    std::string value =
        "webhook " + (push.delivery.empty() ? FormatRfc3339Micro(std::chrono::system_clock::now())
                                            : push.delivery);
    for (const auto& target : targets_) {
      for (const auto& object : target.list()) {
        const SourceRef source = target.source(*object);
        if (!keys.count(git::RepoKey(source.url))) continue;
        if (!RefConcerns(push.ref, source.branch, source.revision)) continue;
        const std::string ns = kube::MetaString(*object, "namespace");
        const std::string name = kube::MetaString(*object, "name");
        json patch = {{"metadata", {{"annotations", {{api::kReconcileAnnotation, value}}}}}};
        auto r = client_.Patch(target.api_version, target.kind, ns, name, kube::PatchType::kMerge,
                               patch.dump());
        if (!r.ok()) {
          spdlog::warn("webhook: cannot request a sync of {} {}/{}: {}", target.kind, ns, name,
                       r.status().ToString());
        } else {
          spdlog::info("webhook: {} push to {} requests a sync of {} {}/{}", push.provider,
                       push.ref, target.kind, ns, name);
        }
      }
    }
  }

  kube::Client client_;
  std::vector<PushTarget> targets_;
  BackgroundQueue<GitPush> queue_{kMaxQueued,
                                  [this](GitPush& push, std::stop_token) { Handle(push); }};
};

}  // namespace

std::function<void(const GitPush&)> PushDispatcher(kube::Client client,
                                                   std::vector<PushTarget> targets) {
  auto dispatcher = std::make_shared<Dispatcher>(std::move(client), std::move(targets));
  return [dispatcher](const GitPush& push) { dispatcher->Push(push); };
}

}  // namespace flywheel::webhook
