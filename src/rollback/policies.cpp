#include "flywheel/rollback/policies.h"

#include <spdlog/spdlog.h>

#include "flywheel/kube/secret.h"
#include "flywheel/rollback/spec.h"

namespace flywheel::rollback {

using nlohmann::json;

std::vector<std::string> PoliciesGuarding(const json& release,
                                          const std::vector<kube::ObjectPtr>& policies) {
  const std::string ns = kube::MetaString(release, "namespace");
  const std::string name = kube::MetaString(release, "name");
  std::vector<std::string> keys;
  for (const auto& p : policies) {
    if (kube::MetaString(*p, "namespace") != ns) continue;
    const json spec = p->value("spec", json::object());
    if (spec.value("releaseRef", json::object()).value("name", "") == name) {
      keys.push_back(ns + "/" + kube::MetaString(*p, "name"));
    }
  }
  return keys;
}

webhook::AlertPolicyLookup AlertPolicyLookupFor(
    kube::Client client, std::function<kube::ObjectPtr(const std::string&)> cached_policy) {
  return [client = std::move(client), cached_policy = std::move(cached_policy)](
             const std::string& ns, const std::string& name) -> Result<webhook::AlertPolicy> {
    const Status unknown(Code::kNotFound,
                         "no RollbackPolicy " + ns + "/" + name + " with spec.alertmanager");
    kube::ObjectPtr policy = cached_policy(ns + "/" + name);
    if (!policy) return unknown;
    auto spec = PolicySpec::Parse(*policy);
    if (!spec.ok() || !spec->alertmanager) return unknown;
    auto secret = client.Get("v1", "Secret", ns, spec->alert_token_secret);
    if (!secret.ok()) {
      // A transient failure answers 503 so Alertmanager sends the alert again.
      if (secret.status().IsTransient()) return secret.status();
      spdlog::warn("alertmanager receiver: cannot read Secret {}/{} of RollbackPolicy {}: {}", ns,
                   spec->alert_token_secret, name, secret.status().ToString());
      return unknown;
    }
    auto token = kube::SecretValue(*secret, spec->alert_token_key, "Secret");
    if (!token.ok() || token->empty()) return unknown;
    return webhook::AlertPolicy{.token = *token, .match_labels = spec->match_labels};
  };
}

bool PolicyChangeMatters(const json& old_policy, const json& new_policy) {
  const json old_meta = old_policy.value("metadata", json::object());
  const json new_meta = new_policy.value("metadata", json::object());
  for (const char* field : {"generation", "annotations", "labels", "deletionTimestamp"}) {
    if (old_meta.value(field, json()) != new_meta.value(field, json())) return true;
  }
  return false;
}

}  // namespace flywheel::rollback
