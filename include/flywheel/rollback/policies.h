#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "flywheel/kube/client.h"
#include "flywheel/kube/informer.h"
#include "flywheel/webhook/alertmanager.h"

// How RollbackPolicies are found: from a Release (to wake them, and for `flywheel status`) and
// from /hooks/alertmanager/<namespace>/<policy> (its token and matchLabels).
namespace flywheel::rollback {

// The keys ("namespace/name") of the policies among `policies` that guard `release`.
std::vector<std::string> PoliciesGuarding(const nlohmann::json& release,
                                          const std::vector<kube::ObjectPtr>& policies);

// What /hooks/alertmanager needs to know about a policy: its token (read from its Secret at
// each request, so a rotated token works at once) and matchLabels. Unknown policies, policies
// without spec.alertmanager and unreadable Secrets are all kNotFound to the caller (401).
webhook::AlertPolicyLookup AlertPolicyLookupFor(
    kube::Client client, std::function<kube::ObjectPtr(const std::string&)> cached_policy);

// Whether an update of a RollbackPolicy needs a reconcile: its spec (generation), annotations
// (an alert, a reconcile request), labels or deletion changed. The controller's own status
// writes do not (the next evaluation is already queued), which halves the reconciles per
// evaluation.
bool PolicyChangeMatters(const nlohmann::json& old_policy, const nlohmann::json& new_policy);

}  // namespace flywheel::rollback
