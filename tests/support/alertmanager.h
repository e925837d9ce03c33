#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "process.h"

namespace flywheel::testing {

// Debian's prometheus-alertmanager (0.25) on a free loopback port with its own temporary
// directory (configuration and storage) and clustering off (--cluster.listen-address=""),
// ready once /-/ready answers 200. A missing program or a failed start throws
// std::runtime_error with its log. The destructor kills it by its PID and removes the directory.
// An alertmanager.yml that sends every alert, grouped by alertname within a second, to one
// webhook `url` with `token` as its bearer credentials (and resolved alerts when asked).
std::string WebhookConfig(const std::string& url, const std::string& token,
                          bool send_resolved = false);

class AlertmanagerServer {
 public:
  // Starts it with `config_yaml` as its alertmanager.yml.
  explicit AlertmanagerServer(const std::string& config_yaml);
  ~AlertmanagerServer();
  AlertmanagerServer(const AlertmanagerServer&) = delete;
  AlertmanagerServer& operator=(const AlertmanagerServer&) = delete;

  int port() const { return port_; }
  // POSTs `alerts` (a JSON array of API v2 postable alerts: labels, annotations, optional
  // startsAt/endsAt) to /api/v2/alerts, as Prometheus does; throws when not answered 200.
  void PostAlerts(const nlohmann::json& alerts) const;
  // Everything it logged so far.
  std::string Log() const;

 private:
  std::string dir_;
  int port_ = 0;
  std::unique_ptr<BackgroundProcess> process_;
};

}  // namespace flywheel::testing
