// RollbackPolicy benchmark (issue 10): a real `flywheel controller` process against the testenv,
// Releases syncing from local git repositories, and Debian's Prometheus scraping the tests'
// exporter (tests/support: Prometheus, TestExporter, GitRepo, BackgroundProcess). Prints one JSON
// line per measurement on stdout; bench/rollback_policy.sh runs it and writes docs/benchmarks.md.
//
//   flywheel_bench_rollback latency [--runs N] [--interval S] [--for S]
//   flywheel_bench_rollback scale [--policies N] [--duration S] [--interval S]
//
// latency: per run, a Release at revision A then B, a policy on it (error ratio > 0.05), the
//   exporter's error ratio set to 0.2 at T0; the instants of the first breaching evaluation, the
//   firing evaluation, the rollback request, the ConfigMap back to A and the Release Ready again.
// scale: N Releases with no policy for --duration s, then the same with one policy each: the
//   controller's CPU and RSS, its evaluations, the queries Prometheus served; then the same N
//   queries sent by one `curl` process.
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "flywheel/api/names.h"
#include "flywheel/common/time.h"
#include "support.h"
#include "support/git_server.h"
#include "support/net.h"
#include "support/operator.h"
#include "support/process.h"
#include "support/prometheus.h"
#include "support/test_exporter.h"
#include "support/testenv.h"

namespace {

using namespace flywheel::bench;
using nlohmann::json;
using namespace std::chrono_literals;
namespace ft = flywheel::testing;

constexpr const char* kRatioQuery =
    "sum(rate(http_requests_total{code=~\"5..\"}[4s])) / sum(rate(http_requests_total[4s]))";
constexpr const char* kApi = "flywheel.dev/v1alpha1";

struct Flags {
  std::string mode;
  int runs = 3;
  int interval = 0;  // seconds; 0 = the mode's default (latency 1, scale 10)
  int for_seconds = 3;
  int policies = 200;
  int duration = 180;
};

[[noreturn]] void Usage(int code) {
  (code == 0 ? std::cout : std::cerr)
      << "usage: flywheel_bench_rollback latency [--runs N] [--interval S] [--for S]\n"
         "       flywheel_bench_rollback scale [--policies N] [--duration S] [--interval S]\n";
  std::exit(code);
}

Flags ParseFlags(int argc, char** argv) {
  Flags f;
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) Usage(2);
  if (args[0] == "-h" || args[0] == "--help") Usage(0);
  f.mode = args[0];
  if (f.mode != "latency" && f.mode != "scale") Usage(2);
  for (size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (i + 1 >= args.size()) Usage(2);
    const int v = std::atoi(args[++i].c_str());
    if (v <= 0) {
      std::cerr << a << " needs a positive whole number\n";
      std::exit(2);
    }
    if (a == "--runs") {
      f.runs = v;
    } else if (a == "--interval") {
      f.interval = v;
    } else if (a == "--for") {
      f.for_seconds = v;
    } else if (a == "--policies") {
      f.policies = v;
    } else if (a == "--duration") {
      f.duration = v;
    } else {
      std::cerr << "unknown flag: " << a << "\n";
      Usage(2);
    }
  }
  if (f.interval == 0) f.interval = f.mode == "latency" ? 1 : 10;
  return f;
}

json PolicyObject(const std::string& ns, const std::string& name, const std::string& release,
                  const std::string& prometheus, int interval, int for_seconds) {
  return {{"apiVersion", kApi},
          {"kind", "RollbackPolicy"},
          {"metadata", {{"name", name}, {"namespace", ns}}},
          {"spec",
           {{"releaseRef", {{"name", release}}},
            {"prometheus", {{"url", prometheus}, {"timeout", "5s"}}},
            {"metrics",
             {{{"name", "error-ratio"},
               {"query", kRatioQuery},
               {"threshold", {{"operator", ">"}, {"value", 0.05}}},
               {"for", std::to_string(for_seconds) + "s"}}}},
            {"interval", std::to_string(interval) + "s"},
            {"window", "0"}}}};
}

json Get(const flywheel::kube::Client& client, const std::string& kind, const std::string& ns,
         const std::string& name) {
  auto r = client.Get(kind == "ConfigMap" ? "v1" : kApi, kind, ns, name);
  return r.ok() ? *r : json::object();
}

// Records when an object first satisfies each of a set of predicates, from a watch: the instant
// each event arrives (system clock, sub-millisecond).
class Watcher {
 public:
  using Pred = std::function<bool(const json&)>;
  Watcher(const flywheel::kube::Client& client, std::string api, std::string kind, std::string ns,
          const std::string& name, std::vector<Pred> preds)
      : preds_(std::move(preds)), seen_(preds_.size(), 0), objects_(preds_.size()) {
    thread_ = std::jthread([=, this, &client](std::stop_token stop) {
      flywheel::kube::WatchOptions wo{.field_selector = "metadata.name=" + name,
                                      .timeout_seconds = 300};
      while (!stop.stop_requested()) {
        client.Watch(
            api, kind, ns, wo,
            [&](flywheel::kube::WatchEvent e) {
              const double t = Now();
              std::lock_guard lock(mu_);
              started_ = true;
              last_ = e.object;
              for (size_t i = 0; i < preds_.size(); ++i) {
                if (seen_[i] == 0 && preds_[i](e.object)) {
                  seen_[i] = t;
                  objects_[i] = e.object;
                }
              }
              return true;
            },
            stop);
        std::this_thread::sleep_for(100ms);  // the server ended the watch, or it failed
      }
    });
  }
  bool started() {
    std::lock_guard lock(mu_);
    return started_;
  }
  double seen(size_t i) {
    std::lock_guard lock(mu_);
    return seen_[i];
  }
  // The object of the event at which predicate `i` first held ({} before).
  json object(size_t i) {
    std::lock_guard lock(mu_);
    return objects_[i];
  }
  json last() {
    std::lock_guard lock(mu_);
    return last_;
  }

 private:
  std::vector<Pred> preds_;
  std::mutex mu_;
  std::vector<double> seen_;
  std::vector<json> objects_;
  bool started_ = false;
  json last_;
  std::jthread thread_;
};

bool WaitFor(const std::function<bool()>& cond, std::chrono::seconds limit) {
  return ft::Eventually(cond, limit);
}

int Latency(const ft::TestEnv& env, const Flags& flags) {
  auto client = env.Client();
  ft::ScopedNamespace ns(env, "bench-rbp-lat");
  ft::TestExporter exporter(200, 0);
  ft::Prometheus prometheus(ft::PrometheusOptions{.scrape_targets = {exporter.target()}});
  Controller controller(env, ns.name());
  const std::string repos = ft::TempDir("flywheel-bench-rbp-repos");
  for (int run = 0; run < flags.runs; ++run) {
    const std::string rel = "web-" + std::to_string(run), cm = "app-" + std::to_string(run);
    ft::GitRepo repo(repos, "deploy-" + std::to_string(run));
    const std::string a = repo.Commit({{"app.yaml", ft::ConfigMapYaml(cm, "A")}}, "good A");
    Require(client.Create(ft::ReleaseObject(ns.name(), rel, repo.FileUrl())).ok(), "create");
    json r = ft::WaitRelease(client, ns.name(), rel, [&](const json& x) {
      return ft::AppliedAt(x, a) && ft::StatusField(x, "stableRevision") == a;
    });
    Require(ft::AppliedAt(r, a), "revision A never became stable: " + r.dump());
    const std::string b = repo.Commit({{"app.yaml", ft::ConfigMapYaml(cm, "B")}}, "bad B");
    r = ft::WaitRelease(client, ns.name(), rel, [&](const json& x) { return ft::AppliedAt(x, b); });
    Require(ft::AppliedAt(r, b), "revision B never applied: " + r.dump());
    const std::string policy = "errors-" + std::to_string(run);
    Require(client
                .Create(PolicyObject(ns.name(), policy, rel, prometheus.url(), flags.interval,
                                     flags.for_seconds))
                .ok(),
            "create policy");
    Require(WaitFor(
                [&] {
                  json s = S(Get(client, "RollbackPolicy", ns.name(), policy));
                  return s.value("watchedRevision", "") == b &&
                         s.value("phase", "") == "Watching" &&
                         !s.value("metrics", json::array()).empty() &&
                         s["metrics"][0].value("state", "") == "Passing";
                },
                90s),
            "the policy never watched B passing");

    auto rolled_back = [b](const json& x) {
      return S(x).value("lastRollback", json::object()).value("fromRevision", "") == b;
    };
    Watcher release(client, kApi, "Release", ns.name(), rel,
                    {[](const json& x) {
                       return x.value("metadata", json::object())
                           .value("annotations", json::object())
                           .contains(flywheel::api::kRollbackAnnotation);
                     },
                     rolled_back,
                     [&](const json& x) {
                       return rolled_back(x) && ft::StatusField(x, "lastAppliedRevision") != b &&
                              ft::Condition(x, "Ready").value("status", "") == "True";
                     }});
    Watcher configmap(client, "v1", "ConfigMap", ns.name(), cm, {[](const json& x) {
                        return x.value("data", json::object()).value("value", "") == "A";
                      }});
    // The policy's status write that starts the breach timer, and the one that records the
    // rollback (written at the end of the reconcile whose evaluation fired: its evaluatedAt is
    // that evaluation's instant).
    auto first_metric = [](const json& x) {
      const json m = S(x).value("metrics", json::array());
      return m.empty() ? json::object() : m[0];
    };
    Watcher watched_policy(
        client, kApi, "RollbackPolicy", ns.name(), policy,
        {[&](const json& x) { return first_metric(x).contains("breachingSince"); },
         [](const json& x) { return S(x).contains("lastRollback"); }});
    Require(
        WaitFor(
            [&] { return release.started() && configmap.started() && watched_policy.started(); },
            30s),
        "the watches did not start");

    const double t0 = Now();
    exporter.SetErrorRatio(0.2);
    const bool healthy =
        WaitFor([&] { return release.seen(2) > 0 && configmap.seen(0) > 0; }, 120s);
    exporter.SetErrorRatio(0);
    Require(healthy, "no rollback within 120 s: " + release.last().dump());
    Require(WaitFor([&] { return watched_policy.seen(1) > 0; }, 30s),
            "the policy never recorded its rollback");
    const json breaching = first_metric(watched_policy.object(0));
    const json fired = watched_policy.object(1);
    const json ps = S(fired);
    const json metric = first_metric(fired);
    const json last = S(release.last()).value("lastRollback", json::object());
    json out = {{"scenario", "latency"},
                {"run", run},
                {"interval_s", flags.interval},
                {"for_s", flags.for_seconds},
                {"scrape_interval_s", 1},
                {"t0", t0},
                {"breaching_since", TimeOf(breaching, "breachingSince")},
                {"breaching_since_fired", TimeOf(metric, "breachingSince")},
                {"breaching_seen", watched_policy.seen(0)},
                {"policy_rollback_seen", watched_policy.seen(1)},
                {"value_at_fire", metric.value("value", json())},
                {"firing_evaluation", TimeOf(metric, "evaluatedAt")},
                {"request_seen", release.seen(0)},
                {"release_rolled_back_seen", release.seen(1)},
                {"configmap_a_seen", configmap.seen(0)},
                {"release_ready_seen", release.seen(2)},
                {"release_last_rollback_at", TimeOf(last, "at")},
                {"policy_last_rollback_at", TimeOf(ps.value("lastRollback", json::object()), "at")},
                {"reason", last.value("reason", "")},
                {"by", last.value("by", "")}};
    std::cout << out.dump() << std::endl;
    Log("latency run " + std::to_string(run + 1) + " of " + std::to_string(flags.runs) + " done");
    client.Delete(kApi, "RollbackPolicy", ns.name(), policy);
    client.Delete(kApi, "Release", ns.name(), rel);
    // The rate window (4 s) forgets the errors before the next run's policy starts.
    std::this_thread::sleep_for(5s);
  }
  std::cout << json{{"scenario", "latency-controller"},
                    {"cpu_s", CpuSeconds(controller.pid())},
                    {"complaints", controller.Complaints()}}
                   .dump()
            << std::endl;
  std::filesystem::remove_all(repos);
  return 0;
}

// How many objects of a flywheel `kind` in `ns` satisfy `pred` (0 when the list fails).
int Count(const flywheel::kube::Client& client, const std::string& kind, const std::string& ns,
          const std::function<bool(const json&)>& pred) {
  auto list = client.List(kApi, kind, ns);
  int n = 0;
  if (list.ok()) {
    for (const auto& item : (*list)["items"]) n += pred(item);
  }
  return n;
}

// What one measured phase of the scale scenario saw.
struct Sample {
  double wall = 0, cpu = 0, prom_cpu = 0, plane_cpu = 0, queries = 0, evaluations = 0;
  double reconciles = 0, reconcile_seconds = 0;  // of the rollbackpolicy controller
  int64_t rss_kib = 0;
};

int Scale(const ft::TestEnv& env, const Flags& flags) {
  auto client = env.Client();
  ft::ScopedNamespace ns(env, "bench-rbp-scale");
  ft::TestExporter exporter(200, 0);
  ft::Prometheus prometheus(ft::PrometheusOptions{.scrape_targets = {exporter.target()}});
  const int prom_pid = FindPid("--storage.tsdb.path=" + prometheus.data_dir());
  Require(prom_pid > 0, "cannot find Prometheus' PID");
  const std::string repos = ft::TempDir("flywheel-bench-rbp-repos");
  ft::GitRepo repo(repos, "many");
  std::map<std::string, std::string> files;
  auto name = [](const char* prefix, int i) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%s%03d", prefix, i);
    return std::string(buf);
  };
  for (int i = 0; i < flags.policies; ++i) {
    files[name("r", i) + "/cm.yaml"] = ft::ConfigMapYaml(name("cm", i), "A");
  }
  repo.Commit(files, "one ConfigMap per Release");
  Controller controller(env, ns.name());
  const int64_t rss_empty = StatusKiB(controller.pid(), "VmRSS");

  Log("creating " + std::to_string(flags.policies) + " Releases");
  for (int i = 0; i < flags.policies; ++i) {
    Require(client
                .Create(ft::ReleaseObject(
                    ns.name(), name("r", i), repo.FileUrl(),
                    {{"source", {{"path", name("r", i)}, {"pollInterval", "1h"}}}}))
                .ok(),
            "create Release");
  }
  auto count_ready = [&] {
    return Count(client, "Release", ns.name(), [](const json& r) {
      return ft::Condition(r, "Ready").value("status", "") == "True";
    });
  };
  Require(WaitFor([&] { return count_ready() == flags.policies; }, 300s),
          "not all Releases became Ready");
  std::this_thread::sleep_for(10s);  // settle: the Releases' first syncs and status writes

  auto prom_queries = [&] {
    return SumSamples(ft::LoopbackGet(prometheus.port(), "/metrics"),
                      "prometheus_http_requests_total", "handler=\"/api/v1/query\"");
  };
  auto measure = [&](const std::string& label) {
    Log("measuring " + label + " for " + std::to_string(flags.duration) + " s");
    auto reconciles = [&](const std::string& text) {
      return std::pair{
          SumSamples(text, "controller_runtime_reconcile_total", "controller=\"rollbackpolicy\""),
          SumSamples(text, "controller_runtime_reconcile_time_seconds_sum",
                     "controller=\"rollbackpolicy\"")};
    };
    const auto r0 = reconciles(controller.Metrics());
    const double w0 = SteadyNow(), c0 = CpuSeconds(controller.pid()), p0 = CpuSeconds(prom_pid),
                 k0 = ControlPlaneCpu(env), q0 = prom_queries(),
                 e0 = SumSamples(controller.Metrics(), "flywheel_rollback_evaluations_total", "");
    std::this_thread::sleep_for(std::chrono::seconds(flags.duration));
    Sample s;
    s.wall = SteadyNow() - w0;
    s.cpu = CpuSeconds(controller.pid()) - c0;
    s.prom_cpu = CpuSeconds(prom_pid) - p0;
    s.plane_cpu = ControlPlaneCpu(env) - k0;
    s.queries = prom_queries() - q0;
    s.evaluations =
        SumSamples(controller.Metrics(), "flywheel_rollback_evaluations_total", "") - e0;
    s.rss_kib = StatusKiB(controller.pid(), "VmRSS");
    const auto r1 = reconciles(controller.Metrics());
    s.reconciles = r1.first - r0.first;
    s.reconcile_seconds = r1.second - r0.second;
    return s;
  };
  auto to_json = [](const Sample& s) {
    return json{{"wall_s", s.wall},
                {"cpu_s", s.cpu},
                {"prometheus_cpu_s", s.prom_cpu},
                {"control_plane_cpu_s", s.plane_cpu},
                {"queries", s.queries},
                {"evaluations", s.evaluations},
                {"rss_kib", s.rss_kib},
                {"reconciles", s.reconciles},
                {"reconcile_seconds", s.reconcile_seconds}};
  };
  const Sample baseline = measure("0 policies");

  Log("creating " + std::to_string(flags.policies) + " RollbackPolicies");
  for (int i = 0; i < flags.policies; ++i) {
    Require(client
                .Create(PolicyObject(ns.name(), name("p", i), name("r", i), prometheus.url(),
                                     flags.interval, 30))
                .ok(),
            "create RollbackPolicy");
  }
  auto count_watching = [&] {
    return Count(client, "RollbackPolicy", ns.name(), [](const json& p) {
      const json s = S(p);
      return s.value("phase", "") == "Watching" && !s.value("metrics", json::array()).empty() &&
             s["metrics"][0].value("state", "") == "Passing";
    });
  };
  Require(WaitFor([&] { return count_watching() == flags.policies; }, 300s),
          "not all policies became Watching");
  std::this_thread::sleep_for(std::chrono::seconds(flags.interval));
  const Sample with = measure(std::to_string(flags.policies) + " policies");
  const int watching_after = count_watching();
  const std::string metrics = controller.Metrics();

  // The same queries, once each, from one curl process (one connection): the cheapest client.
  std::vector<std::string> curl = {"curl", "-sS", "--fail", "-o", "/dev/null"};
  for (int i = 0; i < flags.policies; ++i) {
    if (i > 0) curl.insert(curl.end(), {"--next", "-sS", "--fail", "-o", "/dev/null"});
    curl.insert(curl.end(), {"--data-urlencode", std::string("query=") + kRatioQuery,
                             prometheus.url() + "/api/v1/query"});
  }
  rusage before{}, after{};
  getrusage(RUSAGE_CHILDREN, &before);
  const double cq0 = prom_queries(), cp0 = CpuSeconds(prom_pid), cw0 = SteadyNow();
  const ft::ProcessResult curled = ft::RunProcess(curl);
  const double cwall = SteadyNow() - cw0;
  getrusage(RUSAGE_CHILDREN, &after);
  auto secs = [](const timeval& tv) { return tv.tv_sec + tv.tv_usec / 1e6; };
  const double curl_cpu =
      secs(after.ru_utime) + secs(after.ru_stime) - secs(before.ru_utime) - secs(before.ru_stime);
  Require(curled.exit_code == 0, "curl failed: " + curled.err);

  json out = {
      {"scenario", "scale"},
      {"policies", flags.policies},
      {"interval_s", flags.interval},
      {"duration_s", flags.duration},
      {"rss_empty_kib", rss_empty},
      {"baseline", to_json(baseline)},
      {"with_policies", to_json(with)},
      {"watching_after", watching_after},
      {"evaluations_by_result",
       {{"passing",
         SumSamples(metrics, "flywheel_rollback_evaluations_total", "result=\"passing\"")},
        {"breaching",
         SumSamples(metrics, "flywheel_rollback_evaluations_total", "result=\"breaching\"")},
        {"nodata", SumSamples(metrics, "flywheel_rollback_evaluations_total", "result=\"nodata\"")},
        {"error", SumSamples(metrics, "flywheel_rollback_evaluations_total", "result=\"error\"")}}},
      {"vmhwm_kib", StatusKiB(controller.pid(), "VmHWM")},
      {"complaints", controller.Complaints()},
      {"curl",
       {{"queries", prom_queries() - cq0},
        {"cpu_s", curl_cpu},
        {"wall_s", cwall},
        {"prometheus_cpu_s", CpuSeconds(prom_pid) - cp0}}}};
  std::cout << out.dump() << std::endl;
  std::filesystem::remove_all(repos);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const Flags flags = ParseFlags(argc, argv);
  return RunAgainstTestEnv([&](const ft::TestEnv& env) {
    return flags.mode == "latency" ? Latency(env, flags) : Scale(env, flags);
  });
}
