#include "alertmanager.h"

#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <thread>

#include "flywheel/http/client.h"
#include "net.h"

namespace flywheel::testing {

namespace {

namespace fs = std::filesystem;

constexpr char kProgram[] = "/usr/bin/prometheus-alertmanager";
// How long it may take to answer /-/ready on a loaded machine, polled every kPoll.
constexpr auto kReadyWithin = std::chrono::seconds(30);
constexpr auto kPoll = std::chrono::milliseconds(100);
// A free port can be taken by someone else before it binds: a few tries.
constexpr int kStartAttempts = 3;

}  // namespace

AlertmanagerServer::AlertmanagerServer(const std::string& config_yaml) {
  if (access(kProgram, X_OK) != 0) {
    throw std::runtime_error(std::string(kProgram) +
                             " is not installed (Debian package prometheus-alertmanager)");
  }
  std::string pattern = (fs::temp_directory_path() / "flywheel-alertmanager-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) {
    throw std::runtime_error("mkdtemp " + pattern + ": " + std::strerror(errno));
  }
  dir_ = pattern;
  std::ofstream(dir_ + "/alertmanager.yml") << config_yaml;
  std::string last_log;
  for (int attempt = 0; attempt < kStartAttempts; ++attempt) {
    port_ = FreePort();
    process_ = std::make_unique<BackgroundProcess>(
        std::vector<std::string>{kProgram, "--config.file=" + dir_ + "/alertmanager.yml",
                                 "--storage.path=" + dir_ + "/data",
                                 "--web.listen-address=127.0.0.1:" + std::to_string(port_),
                                 "--cluster.listen-address=", "--log.level=debug"},
        dir_ + "/alertmanager-" + std::to_string(attempt) + ".log");
    for (auto waited = std::chrono::milliseconds(0); waited < kReadyWithin && process_->Running();
         waited += kPoll) {
      if (LoopbackGet(port_, "/-/ready").starts_with("200 ")) return;
      std::this_thread::sleep_for(kPoll);
    }
    last_log = process_->Log();
    process_.reset();  // kills it if it still runs
  }
  fs::remove_all(dir_);
  throw std::runtime_error("prometheus-alertmanager did not get ready:\n" + last_log);
}

AlertmanagerServer::~AlertmanagerServer() {
  process_.reset();
  std::error_code ignored;
  fs::remove_all(dir_, ignored);
}

void AlertmanagerServer::PostAlerts(const nlohmann::json& alerts) const {
  auto client = http::NewClient({.base_url = "http://127.0.0.1:" + std::to_string(port_)});
  if (!client.ok()) throw std::runtime_error(client.status().ToString());
  auto resp = (*client)->Send({.method = "POST",
                               .target = "/api/v2/alerts",
                               .headers = {{"Content-Type", "application/json"}},
                               .body = alerts.dump()});
  if (!resp.ok()) throw std::runtime_error("POST /api/v2/alerts: " + resp.status().ToString());
  if (resp->status != 200) {
    throw std::runtime_error("POST /api/v2/alerts answered " + std::to_string(resp->status) + ": " +
                             resp->body);
  }
}

std::string AlertmanagerServer::Log() const { return process_ ? process_->Log() : ""; }

std::string WebhookConfig(const std::string& url, const std::string& token, bool send_resolved) {
  return R"(route:
  receiver: flywheel
  group_by: [alertname]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: flywheel
    webhook_configs:
      - url: )" +
         url + "\n" + (send_resolved ? "        send_resolved: true\n" : "") +
         R"(        http_config:
          authorization:
            credentials: )" +
         token + "\n";
}

}  // namespace flywheel::testing
