#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>

#include "flywheel/http/server.h"

namespace flywheel::testing {

// A tiny application for Prometheus to scrape: GET /metrics on a free loopback port exposes
//   http_requests_total{code="200"} and http_requests_total{code="500"}: counters that grow at
//     the request rate the test sets, a fraction `error_ratio` of it as 500s;
//   app_info{version="<version>"} 1: the version the test says is running.
// The counters are computed from the real time elapsed at each scrape (no background thread),
// so sum(rate(http_requests_total{code=~"5.."}[5s])) / sum(rate(http_requests_total[5s])) tends
// to the ratio set. Safe to change from the test while Prometheus scrapes.
class TestExporter {
 public:
  explicit TestExporter(double requests_per_second = 100, double error_ratio = 0,
                        std::string version = "A");
  ~TestExporter();
  TestExporter(const TestExporter&) = delete;
  TestExporter& operator=(const TestExporter&) = delete;

  // From now on, `ratio` (0..1) of the requests are 500s; the counts so far are kept.
  void SetErrorRatio(double ratio);
  void SetRequestRate(double requests_per_second);
  void SetVersion(const std::string& version);

  std::string target() const;  // 127.0.0.1:<port>, for PrometheusOptions::scrape_targets
  int port() const;

  // The exposition text as a scrape sees it now.
  std::string Scrape();

 private:
  // Adds the requests since `since_` to the counters at the current rate and ratio (under mu_).
  void Accrue();

  std::mutex mu_;
  double requests_per_second_;
  double error_ratio_;
  std::string version_;
  double ok_total_ = 0;
  double error_total_ = 0;
  std::chrono::steady_clock::time_point since_;
  std::unique_ptr<http::Server> server_;
};

}  // namespace flywheel::testing
