// A Release controller whose watch on the objects it applied lags behind the API server (a slow
// or congested watch, as after a burst of changes): what it records about a revision must come
// from the objects as its apply left them, never from the copy its cache held before the apply.
// The ReleaseReconciler runs in this process, against the testenv, with an HTTP client that holds
// back the Deployment watch while the test says so.
#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <optional>
#include <stop_token>
#include <thread>

#include "flywheel/git/repository_cache.h"
#include "flywheel/http/client.h"
#include "flywheel/kube/config.h"
#include "flywheel/kube/events.h"
#include "flywheel/kube/informer_set.h"
#include "flywheel/kube/metrics.h"
#include "flywheel/release/applied_objects.h"
#include "flywheel/release/metrics.h"
#include "flywheel/release/reconciler.h"
#include "support/crds.h"
#include "support/eventually.h"
#include "support/git_server.h"
#include "support/operator.h"
#include "support/process.h"
#include "support/testenv.h"

namespace flywheel::testing {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

// An http::Client that forwards everything, except that while it is closed the body of every
// watch whose target contains `watched` is held back (the watch stays open; nothing arrives).
// It keeps what it let through of those watches and their lists, so a test can tell what the
// watching side has seen.
class GatedWatches : public http::Client {
 public:
  GatedWatches(std::shared_ptr<http::Client> inner, std::string watched)
      : inner_(std::move(inner)), watched_(std::move(watched)) {}

  Result<http::Response> Send(const http::Request& request) override {
    auto response = inner_->Send(request);
    if (response.ok() && request.target.find(watched_) != std::string::npos) {
      std::lock_guard lock(mu_);
      seen_ += response->body;
    }
    return response;
  }

  Status Stream(const http::Request& request, const http::StreamHandler& handler,
                std::stop_token stop) override {
    if (request.target.find(watched_) == std::string::npos) {
      return inner_->Stream(request, handler, stop);
    }
    http::StreamHandler gated = handler;
    gated.on_data = [this, &handler, stop](std::string_view chunk) {
      std::unique_lock lock(mu_);
      open_cv_.wait(lock, stop, [this] { return open_; });
      if (stop.stop_requested()) return false;
      seen_.append(chunk);
      lock.unlock();
      return handler.on_data(chunk);
    };
    return inner_->Stream(request, gated, stop);
  }

  Status SetClientCertificate(const std::string& cert_pem, const std::string& key_pem) override {
    return inner_->SetClientCertificate(cert_pem, key_pem);
  }

  void CloseIdle(std::chrono::milliseconds idle_for) override { inner_->CloseIdle(idle_for); }

  void SetOpen(bool open) {
    std::lock_guard lock(mu_);
    open_ = open;
    open_cv_.notify_all();
  }
  // Whether the watching side has been given `text` (in a list or a watch event).
  bool Delivered(const std::string& text) {
    std::lock_guard lock(mu_);
    return seen_.find(text) != std::string::npos;
  }

 private:
  std::shared_ptr<http::Client> inner_;
  const std::string watched_;
  std::mutex mu_;
  std::condition_variable_any open_cv_;
  bool open_ = true;
  std::string seen_;
};

// The testenv's admin credentials over a GatedWatches holding back the watches of `watched`.
std::shared_ptr<GatedWatches> Gated(const TestEnv& env, const std::string& watched) {
  kube::LoadOptions lo;
  lo.kubeconfig = env.kubeconfig();
  auto config = kube::LoadKubeconfig(lo);
  EXPECT_TRUE(config.ok()) << config.status().ToString();
  if (!config.ok()) return nullptr;
  EXPECT_FALSE(config->client_cert_pem.empty()) << "the testenv's admin presents a certificate";
  http::ClientOptions ho;
  ho.base_url = config->server;
  ho.tls.ca_pem = config->ca_pem;
  ho.tls.client_cert_pem = config->client_cert_pem;
  ho.tls.client_key_pem = config->client_key_pem;
  auto inner = http::NewClient(ho);
  EXPECT_TRUE(inner.ok()) << inner.status().ToString();
  if (!inner.ok()) return nullptr;
  return std::make_shared<GatedWatches>(std::shared_ptr<http::Client>(std::move(*inner)), watched);
}

std::string DeploymentYaml(const std::string& node_selector) {
  return "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n"
         "  replicas: 1\n  selector: {matchLabels: {app: web}}\n  template:\n"
         "    metadata: {labels: {app: web}}\n    spec:\n" +
         node_selector + "      containers: [{name: web, image: registry.example.invalid/web:1}]\n";
}

// The history entry of `revision`, or an empty object.
json HistoryOf(const json& release, const std::string& revision) {
  for (const json& entry :
       release.value("status", json::object()).value("history", json::array())) {
    if (entry.value("revision", "") == revision) return entry;
  }
  return json::object();
}

TEST(ReleaseCacheLagTest, ARevisionIsJudgedOnWhatItsApplyLeftNotOnTheCacheFromBefore) {
  FLYWHEEL_REQUIRE_TESTENV(env);
  std::string why;
  if (!GitServersAvailable(&why)) GTEST_SKIP() << why;
  ASSERT_NO_FATAL_FAILURE(InstallCrds(*env));
  ScopedNamespace ns(*env, "rel-lag");
  kube::Client admin = env->Client();

  std::shared_ptr<GatedWatches> gate = Gated(*env, "/deployments?");
  ASSERT_TRUE(gate);
  kube::Client client(gate, {});

  const std::string dir = TempDir("flywheel-lag");
  GitRepo repo(dir, "deploy");
  const std::string healthy = repo.Commit({{"app/web.yaml", DeploymentYaml("")}}, "schedulable");
  ASSERT_TRUE(
      admin.Create(ReleaseObject(ns.name(), "web", repo.FileUrl(), {{"source", {{"path", "app"}}}}))
          .ok());

  auto git = git::NewRepositoryCache({.root = dir + "/cache", .allow_file_urls = true});
  kube::EventRecorder events(client, "flywheel-test", "lag");
  kube::RuntimeMetrics runtime(std::make_shared<prometheus::Registry>());
  release::ReleaseMetrics metrics(runtime);
  release::ReleaseReconciler reconciler(
      client,
      [&admin](const std::string& key) -> kube::ObjectPtr {
        const auto slash = key.find('/');
        auto got = admin.Get("flywheel.dev/v1alpha1", "Release", key.substr(0, slash),
                             key.substr(slash + 1));
        return got.ok() ? std::make_shared<const json>(std::move(*got)) : nullptr;
      },
      *git, events, metrics);
  reconciler.SetEnqueue([](const std::string&) {});  // the test reconciles on its own schedule
  std::stop_source stop;
  const std::string key = ns.name() + "/web";
  // Reconciles until the Release satisfies `pred` (each reconcile as a worker would run it).
  auto drive = [&](auto pred) {
    json last;
    Eventually(
        [&] {
          (void)reconciler.Reconcile(key, stop.get_token());
          last = GetRelease(admin, ns.name(), "web");
          return pred(last);
        },
        kWait);
    return last;
  };

  json rel = drive([&](const json& r) {
    return HistoryOf(r, healthy).value("result", "") == "Healthy" &&
           StatusField(r, "health") == "Healthy";
  });
  ASSERT_EQ(HistoryOf(rel, healthy).value("result", ""), "Healthy") << rel.dump(2);
  // The watch has delivered the available Deployment before it is held back.
  auto deployment = admin.Get("apps/v1", "Deployment", ns.name(), "web");
  ASSERT_TRUE(deployment.ok()) << deployment.status().ToString();
  const std::string available =
      "\"resourceVersion\":\"" + kube::MetaString(*deployment, "resourceVersion") + "\"";
  ASSERT_TRUE(Eventually([&] { return gate->Delivered(available); }, kWait))
      << "the cache never saw " << available;

  // From now on the controller's cache keeps the available Deployment of the first revision.
  gate->SetOpen(false);
  const std::string stuck = repo.Commit(
      {{"app/web.yaml", DeploymentYaml("      nodeSelector: {flywheel.dev/nowhere: \"true\"}\n")}},
      "unschedulable");
  rel = drive([&](const json& r) { return StatusField(r, "lastAppliedRevision") == stuck; });
  ASSERT_EQ(StatusField(rel, "lastAppliedRevision"), stuck) << rel.dump(2);
  EXPECT_EQ(HistoryOf(rel, stuck).value("result", ""), "Progressing")
      << "the new revision's pods cannot be scheduled; it was judged on the cached copy of the "
         "old Deployment:\n"
      << rel.dump(2);
  EXPECT_EQ(StatusField(rel, "health"), "Progressing") << rel.dump(2);
  EXPECT_EQ(StatusField(rel, "stableRevision"), healthy) << rel.dump(2);
  // Later reconciles, the cache still behind, see no drift in what they just applied.
  for (int i = 0; i < 5; ++i) (void)reconciler.Reconcile(key, stop.get_token());
  rel = GetRelease(admin, ns.name(), "web");
  EXPECT_EQ(HistoryOf(rel, stuck).value("result", ""), "Progressing") << rel.dump(2);

  gate->SetOpen(true);
  for (int i = 0; i < 5; ++i) {
    (void)reconciler.Reconcile(key, stop.get_token());
    std::this_thread::sleep_for(200ms);
  }
  rel = GetRelease(admin, ns.name(), "web");
  EXPECT_EQ(HistoryOf(rel, stuck).value("result", ""), "Progressing") << rel.dump(2);
  EXPECT_EQ(StatusField(rel, "health"), "Progressing") << rel.dump(2);
  auto healed = env->Kubectl({"get", "events.events.k8s.io", "-n", ns.name(), "-o",
                              "jsonpath={range .items[*]}{.reason}{\"\\n\"}{end}"});
  ASSERT_EQ(healed.exit_code, 0) << healed.err;
  EXPECT_EQ(healed.out.find("SelfHealed"), std::string::npos)
      << "nothing was changed outside Git, yet:\n"
      << healed.out;
  EXPECT_NE(healed.out.find("Synced"), std::string::npos) << healed.out;

  stop.request_stop();
  reconciler.Stop();
  std::filesystem::remove_all(dir);
}

// The applied-objects cache itself: after a write of ours it does not answer for the object
// until its watch has delivered that write, and it does answer again once the watch has moved
// past it, also when the object was deleted before the watch ever showed the write.
TEST(ReleaseCacheLagTest, TheAppliedObjectsCacheAnswersOnlyOnceItsWatchHasSeenOurWrite) {
  FLYWHEEL_REQUIRE_TESTENV(env);
  ScopedNamespace ns(*env, "rel-lag-cache");
  kube::Client admin = env->Client();
  std::shared_ptr<GatedWatches> gate = Gated(*env, "/configmaps?");
  ASSERT_TRUE(gate);
  kube::Client client(gate, {});
  // Declared before the informers, so that their threads are stopped before it goes.
  std::optional<release::AppliedObjects> cache;
  kube::InformerSet informers(client);
  release::AppliedObjects& applied = cache.emplace(informers, [](const std::string&) {});
  const release::ObjectRef ref{"", "v1", "ConfigMap", ns.name(), "settings"};
  auto configmap = [&](const std::string& value) {
    return json{{"apiVersion", "v1"},
                {"kind", "ConfigMap"},
                {"metadata",
                 {{"name", "settings"},
                  {"namespace", ns.name()},
                  {"labels", {{"flywheel.dev/release", ns.name() + ".settings"}}}}},
                {"data", {{"v", value}}}};
  };
  auto created = admin.Create(configmap("1"));
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  applied.Wrote(ref, kube::MetaString(*created, "resourceVersion"));
  applied.Track(ref);
  auto value_in_cache = [&]() -> std::string {
    auto cached = applied.Get(ref);
    if (!cached) return "(cannot answer)";
    if (*cached == nullptr) return "(gone)";
    return (**cached)["data"].value("v", "");
  };
  ASSERT_TRUE(Eventually([&] { return value_in_cache() == "1"; }, kWait)) << value_in_cache();

  // A write the watch has not delivered: the cache still holds v=1 and must not say so.
  gate->SetOpen(false);
  json edit = *created;
  edit["data"]["v"] = "2";
  auto updated = admin.Update(edit);
  ASSERT_TRUE(updated.ok()) << updated.status().ToString();
  const std::string written = kube::MetaString(*updated, "resourceVersion");
  applied.Wrote(ref, written);
  EXPECT_EQ(value_in_cache(), "(cannot answer)");
  EXPECT_FALSE(applied.ResourceVersion(ref).has_value());
  EXPECT_TRUE(applied.Watching(ref));

  // Deleted before the watch showed the write: once the watch catches up the cache knows the
  // object is gone (an expectation kept by the object's version alone would wait for ever).
  ASSERT_TRUE(admin.Delete("v1", "ConfigMap", ns.name(), "settings").ok());
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(value_in_cache(), "(cannot answer)") << "the watch is still held back";
  gate->SetOpen(true);
  EXPECT_TRUE(Eventually([&] { return value_in_cache() == "(gone)"; }, kWait)) << value_in_cache();
  EXPECT_EQ(applied.ResourceVersion(ref).value_or("(cannot answer)"), "");
  EXPECT_EQ(informers.size(), 1u) << "one informer for the kind";
}

}  // namespace
}  // namespace flywheel::testing
