#include "prometheus.h"

#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <thread>

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

void Backfill(const std::string& openmetrics, const fs::path& dir, const std::string& data_dir) {
  const fs::path input = dir / "backfill.om";
  Write(input, openmetrics);
  ProcessResult r = RunProcess(
      {"promtool", "tsdb", "create-blocks-from", "openmetrics", input.string(), data_dir});
  if (r.exit_code != 0) {
    throw std::runtime_error("promtool tsdb create-blocks-from openmetrics exited " +
                             std::to_string(r.exit_code) + ":\n" + r.err + r.out);
  }
}

}  // namespace

Prometheus::Prometheus(PrometheusOptions options) : options_(std::move(options)) {
  std::string pattern = (fs::temp_directory_path() / "flywheel-prometheus-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp " + pattern);
  dir_ = pattern;
  data_dir_ = dir_ + "/data";
  try {
    Write(fs::path(dir_) / "prometheus.yml", ConfigYaml(options_));
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
  return "http://127.0.0.1:" + std::to_string(port_) + options_.route_prefix;
}

bool Prometheus::Launch() {
  std::vector<std::string> argv = {
      "prometheus", "--config.file=" + dir_ + "/prometheus.yml", "--storage.tsdb.path=" + data_dir_,
      "--web.listen-address=127.0.0.1:" + std::to_string(port_), "--log.level=warn"};
  if (!options_.route_prefix.empty()) {
    argv.push_back("--web.route-prefix=" + options_.route_prefix);
    argv.push_back("--web.external-url=" + url());
  }
  process_ = std::make_unique<BackgroundProcess>(argv, dir_ + "/prometheus.log");
  const auto deadline = std::chrono::steady_clock::now() + kReadyLimit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (!process_->Running()) return false;
    if (LoopbackGet(port_, options_.route_prefix + "/-/ready").rfind("200 ", 0) == 0) return true;
    std::this_thread::sleep_for(100ms);
  }
  throw std::runtime_error("prometheus was not ready after " +
                           std::to_string(std::chrono::seconds(kReadyLimit).count()) + " s:\n" +
                           Log());
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

std::string Prometheus::Log() const {
  std::ifstream in(dir_ + "/prometheus.log");
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace flywheel::testing
