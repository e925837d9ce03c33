#pragma once

// What the benchmark drivers share: clocks, /proc readings of a process, Prometheus text, and
// a `flywheel controller` process to measure (bench/*.cpp link the test support library).
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <iterator>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "flywheel/common/time.h"
#include "support/net.h"
#include "support/operator.h"
#include "support/process.h"
#include "support/testenv.h"

namespace flywheel::bench {

using nlohmann::json;
using namespace std::chrono_literals;
namespace ft = flywheel::testing;

inline void Log(const std::string& message) { std::cerr << "bench: " << message << std::endl; }

inline double Now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

inline double SteadyNow() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Unix seconds of an RFC 3339 field (0 when absent or malformed).
inline double TimeOf(const json& object, const std::string& field) {
  if (!object.is_object() || !object.contains(field) || !object[field].is_string()) return 0;
  auto t = flywheel::ParseRfc3339(object[field].get<std::string>());
  return t.ok() ? std::chrono::duration<double>(t->time_since_epoch()).count() : 0;
}

inline json S(const json& object) { return object.value("status", json::object()); }

// CPU seconds (user + system) of a process so far, from /proc/<pid>/stat (0 when gone).
inline double CpuSeconds(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t paren = stat.rfind(')');
  if (paren == std::string::npos) return 0;
  std::istringstream fields(stat.substr(paren + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; fields >> field; ++i) {  // field 3 is the state
    if (i == 14 || i == 15) ticks += std::stod(field);
    if (i == 15) break;
  }
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// A "VmXXX:   1234 kB" line of /proc/<pid>/status, in KiB (0 when absent).
inline int64_t StatusKiB(int pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::stoll(line.substr(field.size() + 1));
  }
  return 0;
}

// The PID of the running process whose command line contains `needle` (-1 when none).
inline int FindPid(const std::string& needle) {
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(entry.path() / "cmdline");
    std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (cmdline.find(needle) != std::string::npos && std::stoi(name) != getpid()) {
      return std::stoi(name);
    }
  }
  return -1;
}

// The sum of every sample of `name` in Prometheus exposition text whose labels contain `filter`.
inline double SumSamples(const std::string& text, const std::string& name,
                         const std::string& filter) {
  std::istringstream in(text);
  std::string line;
  double sum = 0;
  while (std::getline(in, line)) {
    if (line.rfind(name, 0) != 0 || line.size() <= name.size()) continue;
    if (line[name.size()] != '{' && line[name.size()] != ' ') continue;
    if (!filter.empty() && line.find(filter) == std::string::npos) continue;
    sum += std::stod(line.substr(line.rfind(' ') + 1));
  }
  return sum;
}

// CPU seconds of the testenv's control plane so far (kube-apiserver, etcd, the controller
// manager, the scheduler, kwok): the server side of what the controller asks.
inline double ControlPlaneCpu(const ft::TestEnv& env) {
  double total = 0;
  for (const auto& entry : std::filesystem::directory_iterator(env.dir() + "/pids")) {
    std::ifstream in(entry.path());
    int pid = 0;
    if (in >> pid) total += CpuSeconds(pid);
  }
  return total;
}

// `flywheel controller` for one namespace at log level info (debug logging would be measured
// too), with the default number of workers; its metrics on a known port. FLYWHEEL_BIN names
// another `flywheel` binary to run (an older build, for a before/after comparison).
class Controller {
 public:
  Controller(const ft::TestEnv& env, const std::string& ns,
             const std::vector<std::string>& extra_args = {})
      : dir_(ft::TempDir("flywheel-bench")), metrics_port_(ft::FreePort()) {
    const char* binary = std::getenv("FLYWHEEL_BIN");
    std::vector<std::string> argv{binary != nullptr && *binary != '\0' ? binary : FLYWHEEL_BINARY,
                                  "controller",
                                  "--kubeconfig",
                                  env.kubeconfig(),
                                  "--namespace",
                                  ns,
                                  "--metrics-bind-address",
                                  "127.0.0.1:" + std::to_string(metrics_port_),
                                  "--health-probe-bind-address",
                                  "0",
                                  "--webhook-bind-address",
                                  "127.0.0.1:" + std::to_string(webhook_port_),
                                  "--git-cache-dir",
                                  dir_ + "/git",
                                  "--allow-file-sources",
                                  "--log-level",
                                  "info"};
    argv.insert(argv.end(), extra_args.begin(), extra_args.end());
    // FLYWHEEL_BENCH_CONTROLLER_WRAPPER="heaptrack -o /tmp/profile" (words split on spaces) runs
    // the controller under a profiler; the benchmark's figures are then the profiler's, not ours.
    // heaptrack does not pass the benchmark's SIGTERM on: stop the controller after
    // (`pkill -f 'flywheel controller'`), which also ends the profile.
    if (const char* wrapper = std::getenv("FLYWHEEL_BENCH_CONTROLLER_WRAPPER")) {
      std::istringstream words(wrapper);
      std::vector<std::string> prefix{std::istream_iterator<std::string>(words), {}};
      argv.insert(argv.begin(), prefix.begin(), prefix.end());
    }
    process_ = std::make_unique<ft::BackgroundProcess>(argv, dir_ + "/controller.log");
    for (int i = 0; i < 300 && Metrics().empty(); ++i) std::this_thread::sleep_for(100ms);
    if (Metrics().empty()) throw std::runtime_error("controller did not start:\n" + Log());
  }
  ~Controller() {
    if (process_->Running()) {
      process_->Signal(SIGTERM);
      process_->Wait(30000);
    }
    std::filesystem::remove_all(dir_);
  }
  int pid() const { return process_->pid(); }
  int webhook_port() const { return webhook_port_; }
  const std::string& dir() const { return dir_; }
  std::string Metrics() const {
    std::string r = ft::LoopbackGet(metrics_port_, "/metrics");
    return r.rfind("200 ", 0) == 0 ? r.substr(4) : "";
  }
  std::string Log() const { return process_->Log(); }
  // Warning and error lines of its log.
  int Complaints() const {
    std::istringstream in(Log());
    std::string line;
    int n = 0;
    while (std::getline(in, line)) {
      // "<time> warn  ..." / "<time> error ..." (the text log format)
      n += line.find("Z warn ") != std::string::npos || line.find("Z error ") != std::string::npos;
    }
    return n;
  }

 private:
  std::string dir_;
  int metrics_port_;
  int webhook_port_ = ft::FreePort();
  std::unique_ptr<ft::BackgroundProcess> process_;
};

inline void Require(bool ok, const std::string& what) {
  if (!ok) throw std::runtime_error(what);
}

// A driver's main: runs `body` against the testenv the script started; 1 with the reason on
// stderr when there is none or `body` throws, else what `body` returns.
inline int RunAgainstTestEnv(const std::function<int(const ft::TestEnv&)>& body) {
  std::string why;
  const ft::TestEnv* env = ft::TestEnv::Get(&why);
  if (env == nullptr) {
    std::cerr << "bench: no testenv: " << why << "\n";
    return 1;
  }
  try {
    return body(*env);
  } catch (const std::exception& e) {
    std::cerr << "bench: error: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace flywheel::bench
