#include "prometheus.h"

#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <thread>

#include "flywheel/common/base64.h"
#include "flywheel/http/client.h"
#include "net.h"

namespace flywheel::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// Starting on a free port can lose a race for it: try a few ports.
constexpr int kPortAttempts = 3;
// How long Prometheus may take to get ready (WAL replay after a restart included), and to stop.
constexpr auto kReadyLimit = 60s;
constexpr int kStopGraceMs = 10000;

std::string Ms(std::chrono::milliseconds d) { return std::to_string(d.count()) + "ms"; }

void Write(const fs::path& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  if (!out.flush()) throw std::runtime_error("cannot write " + path.string());
}

std::string ConfigYaml(const PrometheusOptions& options) {
  std::string yaml = "global:\n  scrape_interval: " + Ms(options.scrape_interval) +
                     "\n  evaluation_interval: " + Ms(options.evaluation_interval) +
                     "\nscrape_configs:\n";
  if (options.scrape_targets.empty()) return yaml + "  []\n";
  yaml += "  - job_name: test\n    static_configs:\n      - targets:\n";
  for (const std::string& target : options.scrape_targets) yaml += "          - " + target + "\n";
  return yaml;
}

// Runs a program; its stdout, or a runtime_error with its output when it fails.
std::string Run(const std::vector<std::string>& argv) {
  ProcessResult r = RunProcess(argv);
  if (r.exit_code != 0) {
    throw std::runtime_error("`" + argv[0] + " " + argv[1] + "` exited " +
                             std::to_string(r.exit_code) + ":\n" + r.err + r.out);
  }
  return r.out;
}

std::string Read(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// A bcrypt hash of `password` (what Prometheus' basic_auth_users holds).
std::string Bcrypt(const std::string& password) {
  std::string hash =
      Run({"perl", "-e", "print crypt($ARGV[0], '$2b$05$flywheeltestsaltsaltsu')", password});
  if (hash.rfind("$2b$", 0) != 0) throw std::runtime_error("perl's crypt() made no bcrypt hash");
  return hash;
}

// --web.config.file: TLS with the cert and key in `dir`, basic auth.
std::string WebConfigYaml(const PrometheusOptions& options, const fs::path& dir) {
  std::string yaml;
  if (options.tls) {
    yaml += "tls_server_config:\n  cert_file: " + (dir / "tls.crt").string() +
            "\n  key_file: " + (dir / "tls.key").string() + "\n";
  }
  if (!options.basic_auth_user.empty()) {
    yaml += "basic_auth_users:\n  " + options.basic_auth_user + ": '" +
            Bcrypt(options.basic_auth_password) + "'\n";
  }
  return yaml;
}

void Backfill(const std::string& openmetrics, const fs::path& dir, const std::string& data_dir) {
  const fs::path input = dir / "backfill.om";
  Write(input, openmetrics);
  Run({"promtool", "tsdb", "create-blocks-from", "openmetrics", input.string(), data_dir});
}

}  // namespace

Prometheus::Prometheus(PrometheusOptions options) : options_(std::move(options)) {
  std::string pattern = (fs::temp_directory_path() / "flywheel-prometheus-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp " + pattern);
  dir_ = pattern;
  data_dir_ = dir_ + "/data";
  try {
    Write(fs::path(dir_) / "prometheus.yml", ConfigYaml(options_));
    if (options_.tls) {
      Run({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
           "-nodes", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-days",
           "2", "-keyout", dir_ + "/tls.key", "-out", dir_ + "/tls.crt"});
      ca_pem_ = Read(fs::path(dir_) / "tls.crt");
    }
    Write(fs::path(dir_) / "web.yml", WebConfigYaml(options_, dir_));
    if (!options_.backfill_openmetrics.empty()) {
      Backfill(options_.backfill_openmetrics, dir_, data_dir_);
    }
    for (int attempt = 0; attempt < kPortAttempts; ++attempt) {
      port_ = FreePort();
      if (Launch()) return;
    }
    throw std::runtime_error("prometheus exited at start on " + std::to_string(kPortAttempts) +
                             " ports; its last log:\n" + Log());
  } catch (...) {
    process_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
    throw;
  }
}

Prometheus::~Prometheus() {
  process_.reset();  // SIGKILL and wait
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

std::string Prometheus::url() const {
  return std::string(options_.tls ? "https" : "http") + "://127.0.0.1:" + std::to_string(port_) +
         options_.route_prefix;
}

bool Prometheus::Launch() {
  std::vector<std::string> argv = {"prometheus",
                                   "--config.file=" + dir_ + "/prometheus.yml",
                                   "--web.config.file=" + dir_ + "/web.yml",
                                   "--storage.tsdb.path=" + data_dir_,
                                   "--web.listen-address=127.0.0.1:" + std::to_string(port_),
                                   "--log.level=warn"};
  if (!options_.route_prefix.empty()) {
    argv.push_back("--web.route-prefix=" + options_.route_prefix);
    argv.push_back("--web.external-url=" + url());
  }
  process_ = std::make_unique<BackgroundProcess>(argv, dir_ + "/prometheus.log");
  const auto deadline = std::chrono::steady_clock::now() + kReadyLimit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (!process_->Running()) return false;
    if (Ready()) return true;
    std::this_thread::sleep_for(100ms);
  }
  throw std::runtime_error("prometheus was not ready after " +
                           std::to_string(std::chrono::seconds(kReadyLimit).count()) + " s:\n" +
                           Log());
}

bool Prometheus::Ready() const {
  http::ClientOptions client_options;
  client_options.base_url = url().substr(0, url().size() - options_.route_prefix.size());
  client_options.tls.ca_pem = ca_pem_;
  auto client = http::NewClient(client_options);
  if (!client.ok()) return false;
  http::Request request{.target = options_.route_prefix + "/-/ready", .timeout = 5s};
  if (!options_.basic_auth_user.empty()) {
    request.headers.emplace_back(
        "Authorization",
        "Basic " + Base64Encode(options_.basic_auth_user + ":" + options_.basic_auth_password));
  }
  auto response = (*client)->Send(request);
  return response.ok() && response->status == 200;
}

void Prometheus::Stop() {
  if (process_ == nullptr) return;
  process_->Signal(SIGTERM);
  if (process_->Wait(kStopGraceMs) < 0) {
    process_->Signal(SIGKILL);
    process_->Wait(kStopGraceMs);
  }
  process_.reset();
}

void Prometheus::Start() {
  if (process_ != nullptr && process_->Running()) return;
  if (!Launch()) {
    throw std::runtime_error("prometheus exited when started again on port " +
                             std::to_string(port_) + ":\n" + Log());
  }
}

bool Prometheus::Running() { return process_ != nullptr && process_->Running(); }

std::string Prometheus::Log() const { return Read(fs::path(dir_) / "prometheus.log"); }

}  // namespace flywheel::testing
