#include <string>

#include "flywheel/common/base64.h"
#include "flywheel/notify/notifier.h"
#include "webhook_url.h"

namespace flywheel::notify {

namespace {

// The decoded value of `secret`'s data[key] without trailing newlines (files made with `echo`
// or --from-file end in one); nullopt when the key is missing or empty.
Result<std::optional<std::string>> SecretValue(const nlohmann::json& secret, const char* key,
                                               const std::string& what) {
  const auto& data = secret.value("data", nlohmann::json::object());
  auto it = data.find(key);
  if (it == data.end() || !it->is_string()) return std::optional<std::string>();
  auto value = Base64Decode(it->get_ref<const std::string&>());
  if (!value) {
    return Status(Code::kInvalidArgument,
                  what + ": key " + key + " is not valid base64 (a Secret's data must be)");
  }
  while (!value->empty() && (value->back() == '\n' || value->back() == '\r')) value->pop_back();
  if (value->empty()) return std::optional<std::string>();
  return std::optional<std::string>(std::move(*value));
}

// One `notify` entry resolved; `entry` names it in messages ("notify[0]").
Result<Target> ResolveEntry(const kube::Client& client, const std::string& ns,
                            const nlohmann::json& item, const std::string& entry) {
  if (!item.is_object()) {
    return Status(Code::kInvalidArgument, entry + " must be an object with url or secretRef");
  }
  Target target;
  if (auto url = item.find("url"); url != item.end()) {
    if (!url->is_string()) return Status(Code::kInvalidArgument, entry + ".url must be a string");
    target.url = url->get<std::string>();
    auto parsed = ParseWebhookUrl(target.url);
    if (!parsed) {
      return Status(Code::kInvalidArgument, entry + ".url is not an http:// or https:// URL");
    }
    target.name = parsed->name();
  }
  std::string secret_name;
  if (auto ref = item.find("secretRef"); ref != item.end()) {
    if (!ref->is_object() || !ref->contains("name") || !(*ref)["name"].is_string() ||
        (*ref)["name"].get_ref<const std::string&>().empty()) {
      return Status(Code::kInvalidArgument, entry + ".secretRef.name must be a Secret's name");
    }
    secret_name = (*ref)["name"].get<std::string>();
  }
  if (!secret_name.empty()) {
    const std::string what = "Secret " + ns + "/" + secret_name + " (" + entry + ".secretRef)";
    auto secret = client.Get("v1", "Secret", ns, secret_name);
    if (!secret.ok()) {
      if (secret.status().code() == Code::kNotFound) {
        return Status(Code::kNotFound, entry + ": " + what + " not found");
      }
      return Status(secret.status().code(),
                    entry + ": cannot read " + what + ": " + secret.status().message());
    }
    auto url = SecretValue(*secret, "url", what);
    if (!url.ok()) return url.status();
    auto token = SecretValue(*secret, "token", what);
    if (!token.ok()) return token.status();
    if (*url) {
      if (!ParseWebhookUrl(**url)) {
        return Status(Code::kInvalidArgument,
                      entry + ": key url of " + what + " is not an http:// or https:// URL");
      }
      target.url = std::move(**url);
      target.name = "secret " + secret_name;
    }
    if (*token) target.token = std::move(**token);
  }
  if (target.url.empty()) {
    return Status(Code::kInvalidArgument,
                  entry + " has no url: set " + entry + ".url or the key url of " +
                      (secret_name.empty() ? "a Secret named by " + entry + ".secretRef"
                                           : "Secret " + ns + "/" + secret_name));
  }
  return target;
}

}  // namespace

Result<std::vector<Target>> ResolveTargets(kube::Client client, const std::string& ns,
                                           const nlohmann::json& notify) {
  std::vector<Target> targets;
  if (notify.is_null()) return targets;
  if (!notify.is_array()) {
    return Status(Code::kInvalidArgument, "notify must be a list of {url, secretRef} entries");
  }
  for (size_t i = 0; i < notify.size(); ++i) {
    auto target = ResolveEntry(client, ns, notify[i], "notify[" + std::to_string(i) + "]");
    if (!target.ok()) return target.status();
    targets.push_back(std::move(*target));
  }
  return targets;
}

}  // namespace flywheel::notify
