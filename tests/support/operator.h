#pragma once

// A real `flywheel controller` process and helpers over Releases, shared by the integration
// tests of every controller.
#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "flywheel/kube/client.h"
#include "support/eventually.h"
#include "support/process.h"
#include "support/testenv.h"

namespace flywheel::testing {

inline constexpr std::chrono::seconds kWait{90};

// A new directory under the system temp dir (the caller removes it).
std::string TempDir(const std::string& prefix);

// `flywheel controller` watching one namespace, with its own git cache and webhook port.
// `extra_args` are appended to its command line.
class ControllerProcess {
 public:
  ControllerProcess(const TestEnv& env, const std::string& ns, const std::string& secret = "",
                    const std::vector<std::string>& extra_args = {});
  ~ControllerProcess();
  ControllerProcess(const ControllerProcess&) = delete;
  ControllerProcess& operator=(const ControllerProcess&) = delete;
  void Kill();
  int webhook_port() const { return webhook_port_; }
  // "<status> <body>" of GET /metrics ("" when unreachable).
  std::string Metrics() const;
  std::string Log() const { return process_->Log(); }

 private:
  std::string dir_;
  int webhook_port_;
  int metrics_port_;
  std::unique_ptr<BackgroundProcess> process_;
};

nlohmann::json ReleaseObject(const std::string& ns, const std::string& name, const std::string& url,
                             nlohmann::json spec = nlohmann::json::object());
nlohmann::json GetRelease(const kube::Client& client, const std::string& ns,
                          const std::string& name);
nlohmann::json Condition(const nlohmann::json& release, const std::string& type);
std::string StatusField(const nlohmann::json& release, const std::string& field);

// Waits until the Release satisfies `pred`; returns the last object seen.
template <typename F>
nlohmann::json WaitRelease(const kube::Client& client, const std::string& ns,
                           const std::string& name, F pred,
                           std::chrono::milliseconds limit = kWait) {
  nlohmann::json last;
  Eventually(
      [&] {
        last = GetRelease(client, ns, name);
        return pred(last);
      },
      limit);
  return last;
}

// Whether the Release runs `sha` and is Ready.
bool AppliedAt(const nlohmann::json& release, const std::string& sha);
std::string ConfigMapYaml(const std::string& name, const std::string& value,
                          const std::string& extra_meta = "");
// data.value of a ConfigMap, or "<Code>" when it cannot be read.
std::string ConfigMapValue(const kube::Client& client, const std::string& ns,
                           const std::string& name);
// How many objects of `kind` in `ns` carry the label of Release `release`.
size_t Labelled(const kube::Client& client, const std::string& kind, const std::string& ns,
                const std::string& release);

// The hex HMAC-SHA256 of `body` under `key`: a GitHub push webhook's X-Hub-Signature-256 value
// after "sha256=".
std::string HmacHex(const std::string& key, const std::string& body);

// POSTs a GitHub `push` webhook (JSON `body`, signed with `secret`) to the controller's
// /hooks/git on `port`; returns the HTTP status, or -1 when it could not be sent.
int PostGitHubPush(int port, const std::string& secret, const std::string& body,
                   const std::string& delivery);

// Events in `ns` with `reason` whose note starts with `prefix`, counting each series' count.
// -1 when the list fails.
int EventCount(const kube::Client& client, const std::string& ns, const std::string& reason,
               const std::string& prefix = "");

}  // namespace flywheel::testing
