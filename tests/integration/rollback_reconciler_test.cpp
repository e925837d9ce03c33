// The RollbackPolicy reconciler in-process, on a clock the test moves, against the testenv's API
// server and Debian's Prometheus: what it writes to a policy's status, and when.
#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <chrono>
#include <sstream>

#include "flywheel/common/time.h"
#include "flywheel/kube/events.h"
#include "flywheel/kube/metrics.h"
#include "flywheel/notify/notifier.h"
#include "flywheel/rollback/metrics.h"
#include "flywheel/rollback/reconciler.h"
#include "support/crds.h"
#include "support/operator.h"
#include "support/prometheus.h"
#include "support/testenv.h"

namespace flywheel::testing {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

constexpr const char* kApi = "flywheel.dev/v1alpha1";
constexpr const char* kRevision = "0123456789abcdef0123456789abcdef01234567";

// The object at ns/name as the API server has it (the reconciler's "cache": never behind).
std::function<kube::ObjectPtr(const std::string&)> Lookup(const kube::Client& client,
                                                          const std::string& kind) {
  return [client, kind](const std::string& key) -> kube::ObjectPtr {
    const size_t slash = key.find('/');
    auto object = client.Get(kApi, kind, key.substr(0, slash), key.substr(slash + 1));
    return object.ok() ? std::make_shared<const json>(std::move(*object)) : nullptr;
  };
}

// The sum of flywheel_rollback_evaluations_total over its series.
double Evaluations(const kube::RuntimeMetrics& runtime) {
  double sum = 0;
  std::istringstream text(runtime.Serialize());
  for (std::string line; std::getline(text, line);) {
    if (line.rfind("flywheel_rollback_evaluations_total{", 0) != 0) continue;
    sum += std::stod(line.substr(line.rfind(' ') + 1));
  }
  return sum;
}

json PolicyStatus(const kube::Client& client, const std::string& ns) {
  auto p = client.Get(kApi, "RollbackPolicy", ns, "web-errors");
  return p.ok() ? *p : json::object();
}

// A check that keeps passing is written when it first passes, then (value and evaluatedAt
// only) at most every five minutes, the kubelet's rate for an unchanged node status; the
// controller's metric carries every value.
TEST(RollbackReconcilerTest, APassingCheckIsWrittenAtMostEveryFiveMinutes) {
  FLYWHEEL_REQUIRE_TESTENV(env);
  InstallCrds(*env);
  ASSERT_FALSE(HasFatalFailure());
  ScopedNamespace ns(*env, "rbp-quiet");
  auto client = env->Client();
  Prometheus server;

  // A Release running kRevision since t0 (no Release controller runs: the test writes its
  // status).
  const Time t0 = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
  auto release = client.Create(ReleaseObject(ns.name(), "web", "file:///nowhere"));
  ASSERT_TRUE(release.ok()) << release.status().ToString();
  (*release)["status"] = {
      {"lastAppliedRevision", kRevision},
      {"history", {{{"revision", kRevision}, {"appliedAt", FormatRfc3339(t0)}}}}};
  ASSERT_TRUE(client.UpdateStatus(*release).ok());
  json policy = {{"apiVersion", kApi},
                 {"kind", "RollbackPolicy"},
                 {"metadata", {{"name", "web-errors"}, {"namespace", ns.name()}}},
                 {"spec",
                  {{"releaseRef", {{"name", "web"}}},
                   {"prometheus", {{"url", server.url()}}},
                   {"metrics",
                    {{{"name", "error-ratio"},
                      {"query", "vector(0)"},
                      {"threshold", {{"operator", ">"}, {"value", 0.05}}},
                      {"for", "30s"}}}},
                   {"interval", "10s"},
                   {"window", "0"}}}};
  ASSERT_TRUE(client.Create(policy).ok());

  kube::EventRecorder events(client, "flywheel-test", "test");
  kube::RuntimeMetrics runtime(std::make_shared<prometheus::Registry>());
  rollback::RollbackMetrics metrics(runtime);
  notify::Notifier notifier;
  Time now = t0 + 1s;
  rollback::RollbackPolicyReconciler reconciler(client, Lookup(client, "RollbackPolicy"),
                                                Lookup(client, "Release"), events, metrics,
                                                notifier, {.now = [&now] { return now; }});
  const std::string key = ns.name() + "/web-errors";

  ASSERT_TRUE(reconciler.Reconcile(key, {}).ok());
  json first = PolicyStatus(client, ns.name());
  const json& s = first["status"];
  ASSERT_EQ(s.value("phase", ""), "Watching") << first.dump(2);
  EXPECT_EQ(s["metrics"][0].value("state", ""), "Passing");
  EXPECT_EQ(s["metrics"][0].value("value", ""), "0");
  EXPECT_EQ(s["metrics"][0].value("evaluatedAt", ""), FormatRfc3339Micro(now));
  const std::string version = kube::MetaString(first, "resourceVersion");

  // 29 more evaluations, every 10 s for 4m50s: each queries Prometheus, none is written.
  const Time written = now;
  for (int i = 1; i < 30; ++i) {
    now = written + i * 10s;
    ASSERT_TRUE(reconciler.Reconcile(key, {}).ok());
    EXPECT_EQ(kube::MetaString(PolicyStatus(client, ns.name()), "resourceVersion"), version)
        << "written " << i * 10 << " s after the last write";
  }
  EXPECT_EQ(Evaluations(runtime), 30);

  // Five minutes after the last write, the next evaluation is written.
  now = written + 300s;
  ASSERT_TRUE(reconciler.Reconcile(key, {}).ok());
  json later = PolicyStatus(client, ns.name());
  EXPECT_NE(kube::MetaString(later, "resourceVersion"), version);
  EXPECT_EQ(later["status"]["metrics"][0].value("evaluatedAt", ""), FormatRfc3339Micro(now))
      << later.dump(2);
  EXPECT_EQ(later["status"]["metrics"][0].value("state", ""), "Passing");
}

}  // namespace
}  // namespace flywheel::testing
