#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "process.h"

namespace flywheel::testing {

// How a test's Prometheus runs.
struct PrometheusOptions {
  // host:port of /metrics endpoints, scraped as job "test" (e.g. TestExporter::target()).
  std::vector<std::string> scrape_targets;
  std::chrono::milliseconds scrape_interval{std::chrono::seconds(1)};
  std::chrono::milliseconds evaluation_interval{std::chrono::seconds(1)};
  // Serve everything under this path ("/prefix": --web.route-prefix and --web.external-url), as
  // behind a reverse proxy; "" = at the root.
  std::string route_prefix;
  // OpenMetrics text (timestamps in seconds, ending with "# EOF") written into the data dir with
  // `promtool tsdb create-blocks-from openmetrics` before the first start: exact series for
  // deterministic queries. Keep the timestamps within the last few days (retention is 15 d).
  std::string backfill_openmetrics;
  // Serve HTTPS with a self-signed certificate for 127.0.0.1 made at start (Prometheus::ca_pem()
  // is the CA to trust), through --web.config.file.
  bool tls = false;
  // Require HTTP basic auth with this user and password (--web.config.file; the bcrypt hash is
  // made with perl's crypt(), i.e. libxcrypt). "" = no auth.
  std::string basic_auth_user;
  std::string basic_auth_password;
};

// Debian's `prometheus` on a free loopback port, with its own temporary data dir and a config
// written from PrometheusOptions. The constructor returns once /-/ready answers 200 and throws
// std::runtime_error (with Prometheus' or promtool's output) when that fails; a missing program
// is such a failure, never a skip. The destructor kills it and removes the data dir.
class Prometheus {
 public:
  explicit Prometheus(PrometheusOptions options = {});
  ~Prometheus();
  Prometheus(const Prometheus&) = delete;
  Prometheus& operator=(const Prometheus&) = delete;

  // http(s)://127.0.0.1:<port><route_prefix>: what a prom::Client is given.
  std::string url() const;
  int port() const { return port_; }
  // The certificate it serves (self-signed: also the CA to trust) when options.tls; else "".
  const std::string& ca_pem() const { return ca_pem_; }
  const std::string& data_dir() const { return data_dir_; }

  // Stops it (SIGTERM, then SIGKILL after 10 s) and waits for its PID: connections to the port
  // are refused until Start(). A no-op when stopped.
  void Stop();
  // Starts it again on the same port and data dir (the series so far are kept) and waits until
  // it is ready. A no-op when running.
  void Start();
  bool Running();

  // Everything Prometheus logged since its last start.
  std::string Log() const;

 private:
  // Spawns Prometheus on port_ and waits until it is ready; false when it exits first (the port
  // was taken meanwhile); throws when it neither exits nor gets ready in time.
  bool Launch();
  // Whether GET <prefix>/-/ready answers 200 (over TLS and with basic auth when configured).
  bool Ready() const;

  PrometheusOptions options_;
  std::string dir_;       // the temporary dir: config, log, data
  std::string data_dir_;  // dir_/data
  int port_ = 0;
  std::string ca_pem_;
  std::unique_ptr<BackgroundProcess> process_;
};

}  // namespace flywheel::testing
