#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "flywheel/kube/client.h"
#include "flywheel/kube/informer.h"
#include "flywheel/webhook/git.h"

namespace flywheel::webhook {

// The git source an object follows: repository URL, branch, and a pinned revision ("" = none).
struct SourceRef {
  std::string url, branch, revision;
};

// One kind of object a verified push can concern (Releases today, Pipelines next): its objects,
// read from a cache, and the source each follows.
struct PushTarget {
  std::string api_version, kind;
  std::function<std::vector<kube::ObjectPtr>()> list;
  std::function<SourceRef(const nlohmann::json& object)> source;
};

// Whether a push of `ref` can change what an object following `branch` (or pinned to
// `revision`) runs: a branch push concerns the objects that follow that branch (or pin it by
// name), a tag push the objects pinned to that tag; a push that names no ref (or another kind
// of ref) concerns every object of the repository.
bool RefConcerns(const std::string& ref, const std::string& branch, const std::string& revision);

// The /hooks/git push handler (the `on_push` of GitWebhookHandler): records a reconcile request
// (api::kReconcileAnnotation) on every target object whose source is the pushed repository
// (git::RepoKey) and is concerned by the pushed ref, so the leader fetches at once whichever
// replica received the webhook. Patches run on a background thread owned by the returned
// handler; a flood beyond 1000 queued pushes is dropped (the next poll catches up).
std::function<void(const GitPush&)> PushDispatcher(kube::Client client,
                                                   std::vector<PushTarget> targets);

}  // namespace flywheel::webhook
