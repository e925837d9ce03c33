#include "test_exporter.h"

#include <cstdio>
#include <stdexcept>

namespace flywheel::testing {
namespace {

// A counter value as the text format writes it (a float; whole while the rate keeps it whole).
std::string Number(double value) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.3f", value);
  return buf;
}

}  // namespace

TestExporter::TestExporter(double requests_per_second, double error_ratio, std::string version)
    : requests_per_second_(requests_per_second),
      error_ratio_(error_ratio),
      version_(std::move(version)),
      since_(std::chrono::steady_clock::now()) {
  auto server = http::Server::Start({}, {{"/metrics", [this](const http::ServerRequest&) {
                                            return http::ServerResponse{
                                                .content_type = "text/plain; version=0.0.4",
                                                .body = Scrape()};
                                          }}});
  if (!server.ok()) throw std::runtime_error("test exporter: " + server.status().ToString());
  server_ = std::move(*server);
}

TestExporter::~TestExporter() { server_->Stop(); }

void TestExporter::Accrue() {
  auto now = std::chrono::steady_clock::now();
  double requests = std::chrono::duration<double>(now - since_).count() * requests_per_second_;
  error_total_ += requests * error_ratio_;
  ok_total_ += requests * (1 - error_ratio_);
  since_ = now;
}

void TestExporter::SetErrorRatio(double ratio) {
  std::lock_guard lock(mu_);
  Accrue();
  error_ratio_ = ratio;
}

void TestExporter::SetRequestRate(double requests_per_second) {
  std::lock_guard lock(mu_);
  Accrue();
  requests_per_second_ = requests_per_second;
}

void TestExporter::SetVersion(const std::string& version) {
  std::lock_guard lock(mu_);
  version_ = version;
}

std::string TestExporter::target() const { return "127.0.0.1:" + std::to_string(port()); }

int TestExporter::port() const { return server_->port(); }

std::string TestExporter::Scrape() {
  std::lock_guard lock(mu_);
  Accrue();
  return "# HELP http_requests_total Requests served, by status code.\n"
         "# TYPE http_requests_total counter\n"
         "http_requests_total{code=\"200\"} " +
         Number(ok_total_) + "\nhttp_requests_total{code=\"500\"} " + Number(error_total_) +
         "\n# HELP app_info The version the test says is running.\n"
         "# TYPE app_info gauge\n"
         "app_info{version=\"" +
         version_ + "\"} 1\n";
}

}  // namespace flywheel::testing
