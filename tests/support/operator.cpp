#include "support/operator.h"

#include <gtest/gtest.h>
#include <openssl/hmac.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>

#include "flywheel/http/client.h"
#include "support/net.h"

namespace flywheel::testing {

using nlohmann::json;

std::string TempDir(const std::string& prefix) {
  std::string dir = std::filesystem::temp_directory_path() /
                    (prefix + "-" + std::to_string(getpid()) + "-" + std::to_string(rand()));
  std::filesystem::create_directories(dir);
  return dir;
}

ControllerProcess::ControllerProcess(const TestEnv& env, const std::string& ns,
                                     const std::string& secret,
                                     const std::vector<std::string>& extra_args)
    : dir_(TempDir("flywheel-controller")), webhook_port_(FreePort()), metrics_port_(FreePort()) {
  std::vector<std::string> argv = {
      FLYWHEEL_BINARY, "controller", "--kubeconfig", env.kubeconfig(), "--namespace", ns,
      "--metrics-bind-address", "127.0.0.1:" + std::to_string(metrics_port_),
      "--health-probe-bind-address", "0", "--webhook-bind-address",
      "127.0.0.1:" + std::to_string(webhook_port_), "--git-cache-dir", dir_ + "/git",
      "--allow-file-sources", "--concurrent", "4", "--log-level", "debug",
      // kwok nodes serve no logs: fall back to the termination
      // message quickly
      "--pod-log-timeout", "2s"};
  if (!secret.empty()) {
    std::ofstream(dir_ + "/secret") << secret << "\n";
    argv.push_back("--git-webhook-secret-file");
    argv.push_back(dir_ + "/secret");
  }
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  process_ = std::make_unique<BackgroundProcess>(argv, dir_ + "/controller.log");
}

ControllerProcess::~ControllerProcess() {
  if (process_->Running()) {
    process_->Signal(SIGTERM);
    process_->Wait(30000);
  }
  if (::testing::Test::HasFailure()) {
    std::string log = process_->Log();
    if (log.size() > 30000) log = "...\n" + log.substr(log.size() - 30000);
    std::cerr << "---- controller log ----\n" << log << "\n";
  }
  std::filesystem::remove_all(dir_);
}

void ControllerProcess::Kill() {
  process_->Signal(SIGKILL);
  process_->Wait(10000);
}

std::string ControllerProcess::Metrics() const { return LoopbackGet(metrics_port_, "/metrics"); }

json ReleaseObject(const std::string& ns, const std::string& name, const std::string& url,
                   json spec) {
  if (!spec["source"].contains("url")) spec["source"]["url"] = url;
  if (!spec["source"].contains("pollInterval")) spec["source"]["pollInterval"] = "1s";
  return {{"apiVersion", "flywheel.dev/v1alpha1"},
          {"kind", "Release"},
          {"metadata", {{"name", name}, {"namespace", ns}}},
          {"spec", spec}};
}

json GetRelease(const kube::Client& client, const std::string& ns, const std::string& name) {
  auto r = client.Get("flywheel.dev/v1alpha1", "Release", ns, name);
  return r.ok() ? *r : json::object();
}

json Condition(const json& release, const std::string& type) {
  for (const auto& c : release.value("status", json::object()).value("conditions", json::array())) {
    if (c.value("type", "") == type) return c;
  }
  return json::object();
}

std::string StatusField(const json& release, const std::string& field) {
  const json status = release.value("status", json::object());
  auto it = status.find(field);
  return it != status.end() && it->is_string() ? it->get<std::string>() : "";
}

bool AppliedAt(const json& release, const std::string& sha) {
  return StatusField(release, "lastAppliedRevision") == sha &&
         Condition(release, "Ready").value("status", "") == "True";
}

std::string ConfigMapYaml(const std::string& name, const std::string& value,
                          const std::string& extra_meta) {
  return "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: " + name + "\n" + extra_meta +
         "data:\n  value: \"" + value + "\"\n";
}

std::string ConfigMapValue(const kube::Client& client, const std::string& ns,
                           const std::string& name) {
  auto cm = client.Get("v1", "ConfigMap", ns, name);
  if (!cm.ok()) return "<" + std::string(CodeName(cm.status().code())) + ">";
  return cm->value("data", json::object()).value("value", "");
}

size_t Labelled(const kube::Client& client, const std::string& kind, const std::string& ns,
                const std::string& release) {
  kube::ListOptions lo;
  lo.label_selector = "flywheel.dev/release=" + ns + "." + release;
  auto list = client.List("v1", kind, ns, lo);
  return list.ok() ? (*list)["items"].size() : 0;
}

int EventCount(const kube::Client& client, const std::string& ns, const std::string& reason,
               const std::string& prefix) {
  auto list = client.List("events.k8s.io/v1", "Event", ns);
  if (!list.ok()) return -1;
  int n = 0;
  for (const auto& e : (*list)["items"]) {
    if (e.value("reason", "") != reason || !e.value("note", "").starts_with(prefix)) continue;
    n += e.contains("series") ? e["series"].value("count", 1) : 1;
  }
  return n;
}

std::string HmacHex(const std::string& key, const std::string& body) {
  unsigned char mac[32];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(body.data()), body.size(), mac, &len);
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out += kHex[mac[i] >> 4];
    out += kHex[mac[i] & 15];
  }
  return out;
}

int PostGitHubPush(int port, const std::string& secret, const std::string& body,
                   const std::string& delivery) {
  auto http = http::NewClient({.base_url = "http://127.0.0.1:" + std::to_string(port)});
  if (!http.ok()) return -1;
  http::Request req{
      .method = "POST", .target = "/hooks/git", .body = body, .timeout = std::chrono::seconds(5)};
  req.headers = {{"Content-Type", "application/json"},
                 {"X-GitHub-Event", "push"},
                 {"X-GitHub-Delivery", delivery},
                 {"X-Hub-Signature-256", "sha256=" + HmacHex(secret, body)}};
  auto resp = (*http)->Send(req);
  return resp.ok() ? resp->status : -1;
}

}  // namespace flywheel::testing
