// Pipelines and PipelineRuns end to end: a real `flywheel controller` process against the testenv
// and real git repositories. Build pods land on kwok nodes, where nothing runs: the test acts as
// the kubelet and writes each step's container state through the pod's status subresource
// (docs/testenv.md), which gives it exact control over exit codes, messages and timing.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "flywheel/common/base64.h"
#include "flywheel/common/time.h"
#include "support/crds.h"
#include "support/eventually.h"
#include "support/git_server.h"
#include "support/notify_receiver.h"
#include "support/operator.h"
#include "support/process.h"
#include "support/testenv.h"

namespace flywheel::testing {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

constexpr const char* kGroup = "flywheel.dev/v1alpha1";

json PipelineObject(const std::string& ns, const std::string& name, const std::string& url,
                    json extra = json::object()) {
  json spec = {
      {"source", {{"url", url}, {"branch", "main"}, {"pollInterval", "1s"}}},
      {"steps",
       {{{"name", "build"}, {"image", "registry.example.invalid/tools:1"}, {"script", "make"}},
        {{"name", "test"},
         {"image", "registry.example.invalid/tools:1"},
         {"script", "make test"}}}}};
  spec.update(extra);
  return {{"apiVersion", kGroup},
          {"kind", "Pipeline"},
          {"metadata", {{"name", name}, {"namespace", ns}}},
          {"spec", spec}};
}

json Get(const kube::Client& client, const std::string& kind, const std::string& ns,
         const std::string& name) {
  auto o = client.Get(kind == "Pod" || kind == "Secret" ? "v1" : kGroup, kind, ns, name);
  return o.ok() ? *o : json::object();
}

json S(const json& object) { return object.value("status", json::object()); }

template <typename F>
json WaitFor(const kube::Client& client, const std::string& kind, const std::string& ns,
             const std::string& name, F pred, std::chrono::milliseconds limit = kWait) {
  json last;
  Eventually(
      [&] {
        last = Get(client, kind, ns, name);
        return pred(last);
      },
      limit);
  return last;
}

std::string Phase(const json& run) { return S(run).value("phase", ""); }

json Step(const json& run, const std::string& name) {
  for (const auto& s : S(run).value("steps", json::array())) {
    if (s.value("name", "") == name) return s;
  }
  return json::object();
}

// The names of the runs in `ns`.
std::vector<std::string> Runs(const kube::Client& client, const std::string& ns) {
  std::vector<std::string> names;
  auto list = client.List(kGroup, "PipelineRun", ns);
  if (!list.ok()) return {"<list failed>"};
  for (const auto& r : list->value("items", json::array()))
    names.push_back(r["metadata"].value("name", ""));
  std::sort(names.begin(), names.end());
  return names;
}

// One container's state as a kubelet writes it.
struct ContainerState {
  std::string name;
  std::string state;  // "waiting:<Reason>", "running" or "terminated"
  int exit_code = 0;
  std::string message;  // terminated or waiting message
};

json ContainerStatus(const ContainerState& c) {
  json state;
  const std::string at = FormatRfc3339(std::chrono::system_clock::now());
  if (c.state.rfind("waiting:", 0) == 0) {
    state["waiting"] = {{"reason", c.state.substr(8)}};
    if (!c.message.empty()) state["waiting"]["message"] = c.message;
  } else if (c.state == "running") {
    state["running"] = {{"startedAt", at}};
  } else {
    state["terminated"] = {{"exitCode", c.exit_code},
                           {"reason", c.exit_code == 0 ? "Completed" : "Error"},
                           {"startedAt", at},
                           {"finishedAt", at}};
    if (!c.message.empty()) state["terminated"]["message"] = c.message;
  }
  return {{"name", c.name},    {"ready", c.state == "running"},
          {"restartCount", 0}, {"image", "registry.example.invalid/tools:1"},
          {"imageID", ""},     {"started", c.state == "running"},
          {"state", state}};
}

// Acts as the kubelet: waits until kwok runs the pod, then writes the phase and every
// container's state (a merge patch replaces the lists whole). A pod still in its init
// containers is written as Running, not Pending as a kubelet would: kwok takes a Pending pod on
// a node as its own and writes it Running again.
void SetPod(const kube::Client& client, const std::string& ns, const std::string& pod,
            const std::string& phase, const std::vector<ContainerState>& init,
            const std::vector<ContainerState>& containers, const std::string& reason = "") {
  json p = WaitFor(client, "Pod", ns, pod, [](const json& o) {
    return S(o).value("phase", "") == "Running" || S(o).value("phase", "") == "Failed" ||
           S(o).value("phase", "") == "Succeeded";
  });
  ASSERT_FALSE(p.empty()) << "pod " << pod << " never appeared";
  json status = {{"phase", phase},
                 {"initContainerStatuses", json::array()},
                 {"containerStatuses", json::array()}};
  if (!reason.empty()) status["reason"] = reason;
  for (const auto& c : init) status["initContainerStatuses"].push_back(ContainerStatus(c));
  for (const auto& c : containers) status["containerStatuses"].push_back(ContainerStatus(c));
  auto patched = client.Patch("v1", "Pod", ns, pod, kube::PatchType::kMerge,
                              json{{"status", status}}.dump(), {.subresource = "status"});
  ASSERT_TRUE(patched.ok()) << patched.status().ToString();
}

// Every step of the default two-step Pipeline (clone, build as init containers; test the one
// container) succeeded.
void Succeed(const kube::Client& client, const std::string& ns, const std::string& pod) {
  SetPod(client, ns, pod, "Succeeded", {{"clone", "terminated"}, {"build", "terminated"}},
         {{"test", "terminated"}});
}

class PipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    env_ = TestEnv::Get(&why);
    if (env_ == nullptr) GTEST_SKIP() << why;
    InstallCrds(*env_);
    if (HasFatalFailure()) return;
    repos_ = TempDir("flywheel-pl-repos");
    app_ = std::make_unique<GitRepo>(repos_, "app");
  }
  void TearDown() override {
    app_.reset();
    if (!repos_.empty()) std::filesystem::remove_all(repos_);
  }

  std::string RunName(const std::string& pipeline, const std::string& sha) {
    return pipeline + "-" + sha.substr(0, 7);
  }

  const TestEnv* env_ = nullptr;
  std::string repos_;
  std::unique_ptr<GitRepo> app_;
};

TEST_F(PipelineTest, ACommitIsBuiltOnceAndItsRunSucceeds) {
  FLYWHEEL_REQUIRE_TESTENV(env);
  ScopedNamespace ns(*env, "pl-ok");
  auto client = env->Client();
  const std::string c1 = app_->Commit({{"main.c", "int main() { return 0; }\n"}}, "first");
  ControllerProcess controller(*env, ns.name());
  ASSERT_TRUE(client.Create(PipelineObject(ns.name(), "web", app_->FileUrl())).ok());
  // Created: the branch head is built.
  const std::string run_name = RunName("web", c1);
  json run = WaitFor(client, "PipelineRun", ns.name(), run_name,
                     [](const json& r) { return !S(r).value("podName", "").empty(); });
  ASSERT_EQ(S(run).value("podName", ""), run_name) << run.dump(2);
  EXPECT_EQ(run["spec"].value("revision", ""), c1);
  EXPECT_EQ(S(run).value("shortRevision", ""), c1.substr(0, 7));
  json pod = Get(client, "Pod", ns.name(), run_name);
  ASSERT_FALSE(pod.empty());
  EXPECT_EQ(pod["metadata"]["ownerReferences"][0].value("kind", ""), "PipelineRun");
  EXPECT_EQ(pod["metadata"]["ownerReferences"][0].value("uid", ""),
            run["metadata"].value("uid", ""));

  // clone done, build running.
  SetPod(client, ns.name(), run_name, "Running", {{"clone", "terminated"}, {"build", "running"}},
         {{"test", "waiting:PodInitializing"}});
  // (kwok's own status, every container running, may be seen first: wait for the test's.)
  run = WaitFor(client, "PipelineRun", ns.name(), run_name, [](const json& r) {
    return Step(r, "build").value("phase", "") == "Running" &&
           Step(r, "test").value("phase", "") == "Pending";
  });
  EXPECT_EQ(Step(run, "clone").value("phase", ""), "Succeeded") << run.dump(2);
  EXPECT_EQ(Step(run, "test").value("phase", ""), "Pending") << run.dump(2);

  Succeed(client, ns.name(), run_name);
  run = WaitFor(client, "PipelineRun", ns.name(), run_name,
                [](const json& r) { return Phase(r) == "Succeeded"; });
  ASSERT_EQ(Phase(run), "Succeeded") << run.dump(2);
  EXPECT_FALSE(S(run).value("completionTime", "").empty());
  for (const char* step : {"clone", "build", "test"})
    EXPECT_EQ(Step(run, step).value("phase", ""), "Succeeded") << step;
  json pipeline = WaitFor(client, "Pipeline", ns.name(), "web", [&](const json& p) {
    return S(p).value("lastSucceededRun", json::object()).value("name", "") == run_name;
  });
  EXPECT_EQ(S(pipeline)["lastRun"].value("phase", ""), "Succeeded") << pipeline.dump(2);
  EXPECT_EQ(S(pipeline).value("lastSeenRevision", ""), c1);
  EXPECT_TRUE(Eventually(
      [&] {
        return controller.Metrics().find("flywheel_pipeline_runs_total{namespace=\"" + ns.name() +
                                         "\",pipeline=\"web\",result=\"succeeded\"} 1") !=
               std::string::npos;
      },
      30s))
      << controller.Metrics();
  EXPECT_NE(controller.Metrics().find("flywheel_pipeline_runs_total{namespace=\"" + ns.name() +
                                      "\",pipeline=\"web\",result=\"failed\"} 0\n"),
            std::string::npos)
      << "every result's series exists from the Pipeline's first reconcile";
  // Polled every second for a while: still one run for the one commit.
  std::this_thread::sleep_for(3s);
  EXPECT_EQ(Runs(client, ns.name()), std::vector<std::string>{run_name});
  EXPECT_EQ(EventCount(client, ns.name(), "RunCreated"), 1);
}

TEST_F(PipelineTest, AFailingStepStopsTheRunWithItsLogTailAndAlerts) {
  FLYWHEEL_REQUIRE_TESTENV(env);
  ScopedNamespace ns(*env, "pl-fail");
  auto client = env->Client();
  const std::string c1 = app_->Commit({{"main.c", "int main() { return 1; }\n"}}, "broken");
  const std::string token = "s3cr3t-nexus-token";
  ASSERT_TRUE(client
                  .Create({{"apiVersion", "v1"},
                           {"kind", "Secret"},
                           {"metadata", {{"name", "nexus"}, {"namespace", ns.name()}}},
                           {"data", {{"token", Base64Encode(token)}}}})
                  .ok());
  NotifyReceiver receiver;
  ASSERT_TRUE(receiver.ok()) << receiver.error();
  ControllerProcess controller(*env, ns.name());
  json pipeline = PipelineObject(ns.name(), "web", app_->FileUrl());
  pipeline["spec"]["steps"][0]["env"] = {
      {{"name", "NEXUS_TOKEN"},
       {"valueFrom", {{"secretKeyRef", {{"name", "nexus"}, {"key", "token"}}}}}}};
  pipeline["spec"]["steps"].push_back(
      {{"name", "package"}, {"image", "registry.example.invalid/tools:1"}, {"script", "tar"}});
  pipeline["spec"]["notify"] = {{{"url", receiver.url()}}};
  ASSERT_TRUE(client.Create(pipeline).ok());
  const std::string run_name = RunName("web", c1);
  WaitFor(client, "PipelineRun", ns.name(), run_name,
          [](const json& r) { return !S(r).value("podName", "").empty(); });
  // The second step (test) fails; the log's end reaches the termination message
  // (FallbackToLogsOnError), with the token in it; package never starts. The pod's phase is
  // still Running, as a kubelet's first status after the exit can be.
  SetPod(client, ns.name(), run_name, "Running",
         {{"clone", "terminated"},
          {"build", "terminated"},
          {"test", "terminated", 2,
           "running 12 tests\nFAIL: test_login (token " + token + ")\n1 of 12 tests failed\n"}},
         {{"package", "waiting:PodInitializing"}});
  json run = WaitFor(client, "PipelineRun", ns.name(), run_name,
                     [](const json& r) { return Phase(r) == "Failed"; });
  ASSERT_EQ(Phase(run), "Failed") << run.dump(2);
  json test = Step(run, "test");
  EXPECT_EQ(test.value("phase", ""), "Failed");
  EXPECT_EQ(test.value("exitCode", -1), 2);
  const std::string tail = test.value("logTail", "");
  EXPECT_NE(tail.find("1 of 12 tests failed"), std::string::npos) << run.dump(2);
  EXPECT_EQ(tail.find(token), std::string::npos) << "the Secret's value leaked: " << tail;
  EXPECT_NE(tail.find("***"), std::string::npos) << tail;
  EXPECT_EQ(Step(run, "package").value("phase", ""), "Skipped") << run.dump(2);
  const json status = S(run);
  const json* cond = nullptr;
  for (const auto& c : status["conditions"])
    if (c.value("type", "") == "Succeeded") cond = &c;
  ASSERT_NE(cond, nullptr);
  EXPECT_EQ(cond->value("status", ""), "False");
  EXPECT_NE(cond->value("message", "").find("test"), std::string::npos) << cond->dump();
  EXPECT_TRUE(Eventually(
      [&] { return EventCount(client, ns.name(), cond->value("reason", "")) == 1; }, 30s));
  ASSERT_TRUE(Eventually([&] { return !receiver.Received().empty(); }, 30s));
  {
    const std::vector<json> notified = receiver.Received();
    EXPECT_EQ(notified[0].value("event", ""), "PipelineRunFailed") << notified[0].dump(2);
    EXPECT_EQ(notified[0]["details"].value("step", ""), "test") << notified[0].dump(2);
    EXPECT_EQ(notified[0]["details"].value("exitCode", -1), 2);
    EXPECT_EQ(notified[0].dump().find(token), std::string::npos);
    EXPECT_NE(notified[0].value("text", "").find(run_name), std::string::npos);
  }
  EXPECT_TRUE(Eventually(
      [&] {
        return controller.Metrics().find("pipeline=\"web\",result=\"failed\"} 1") !=
               std::string::npos;
      },
      30s));
  // The failed pod stays (kubectl logs works on it until the run is pruned): the kubelet, not
  // the controller, ends it.
  std::this_thread::sleep_for(2s);
  EXPECT_FALSE(Get(client, "Pod", ns.name(), run_name).empty())
      << "the pod of a run whose step failed was deleted";
  EXPECT_EQ(controller.Log().find(token), std::string::npos);
}

TEST_F(PipelineTest, CancelTimeoutAndAStuckImageEndTheRunAndRemoveThePod) {
  FLYWHEEL_REQUIRE_TESTENV(env);
  ScopedNamespace ns(*env, "pl-stop");
  auto client = env->Client();
  const std::string c1 = app_->Commit({{"a", "1"}}, "one");
  ControllerProcess controller(*env, ns.name(), "", {"--image-pull-timeout", "2s"});
  // Three Pipelines on the same commit: cancelled by hand, timed out, stuck on an image.
  json slow = PipelineObject(ns.name(), "slow", app_->FileUrl(), {{"timeout", "4s"}});
  ASSERT_TRUE(client.Create(PipelineObject(ns.name(), "cancel", app_->FileUrl())).ok());
  ASSERT_TRUE(client.Create(slow).ok());
  ASSERT_TRUE(client.Create(PipelineObject(ns.name(), "stuck", app_->FileUrl())).ok());
  for (const char* p : {"cancel", "slow", "stuck"}) {
    WaitFor(client, "PipelineRun", ns.name(), RunName(p, c1),
            [](const json& r) { return !S(r).value("podName", "").empty(); });
  }
  SetPod(client, ns.name(), RunName("cancel", c1), "Running",
         {{"clone", "terminated"}, {"build", "running"}}, {{"test", "waiting:PodInitializing"}});
  SetPod(client, ns.name(), RunName("stuck", c1), "Running",
         {{"clone", "terminated"},
          {"build", "waiting:ImagePullBackOff", 0,
           "Back-off pulling image \"registry.example.invalid/tools:1\""}},
         {{"test", "waiting:PodInitializing"}});
  WaitFor(client, "PipelineRun", ns.name(), RunName("cancel", c1), [](const json& r) {
    return Step(r, "build").value("phase", "") == "Running" &&
           Step(r, "test").value("phase", "") == "Pending";
  });
  auto r = env->Kubectl({"patch", "-n", ns.name(), "pipelinerun/" + RunName("cancel", c1),
                         "--type=merge", "-p", R"({"spec":{"cancelled":true}})"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // Resuming a cancelled run is refused by the schema.
  json cancelled = WaitFor(client, "PipelineRun", ns.name(), RunName("cancel", c1),
                           [](const json& o) { return Phase(o) == "Cancelled"; });
  EXPECT_EQ(Phase(cancelled), "Cancelled") << cancelled.dump(2);
  EXPECT_EQ(Step(cancelled, "build").value("phase", ""), "Cancelled") << cancelled.dump(2);
  EXPECT_EQ(Step(cancelled, "test").value("phase", ""), "Skipped");
  r = env->Kubectl({"patch", "-n", ns.name(), "pipelinerun/" + RunName("cancel", c1),
                    "--type=merge", "-p", R"({"spec":{"cancelled":false}})"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("cannot be resumed"), std::string::npos) << r.err;

  json timed = WaitFor(client, "PipelineRun", ns.name(), RunName("slow", c1),
                       [](const json& o) { return Phase(o) == "TimedOut"; });
  EXPECT_EQ(Phase(timed), "TimedOut") << timed.dump(2);
  json stuck = WaitFor(client, "PipelineRun", ns.name(), RunName("stuck", c1),
                       [](const json& o) { return Phase(o) == "Failed"; });
  EXPECT_EQ(Phase(stuck), "Failed") << stuck.dump(2);
  EXPECT_EQ(Step(stuck, "build").value("reason", ""), "ImagePullBackOff") << stuck.dump(2);
  for (const char* p : {"cancel", "slow", "stuck"}) {
    EXPECT_TRUE(
        Eventually([&] { return Get(client, "Pod", ns.name(), RunName(p, c1)).empty(); }, 30s))
        << "the pod of " << p << " was not deleted";
  }
  EXPECT_TRUE(Eventually(
      [&] {
        const std::string m = controller.Metrics();
        return m.find("pipeline=\"cancel\",result=\"cancelled\"} 1") != std::string::npos &&
               m.find("pipeline=\"slow\",result=\"timedout\"} 1") != std::string::npos &&
               m.find("pipeline=\"stuck\",result=\"failed\"} 1") != std::string::npos;
      },
      30s))
      << controller.Metrics();
}

TEST_F(PipelineTest, ReplaceCancelsTheOlderRunQueueWaitsForIt) {
  FLYWHEEL_REQUIRE_TESTENV(env);
  ScopedNamespace ns(*env, "pl-conc");
  auto client = env->Client();
  const std::string c1 = app_->Commit({{"a", "1"}}, "one");
  ControllerProcess controller(*env, ns.name());
  ASSERT_TRUE(client.Create(PipelineObject(ns.name(), "rep", app_->FileUrl())).ok());
  ASSERT_TRUE(
      client.Create(PipelineObject(ns.name(), "queue", app_->FileUrl(), {{"concurrency", "Queue"}}))
          .ok());
  for (const char* p : {"rep", "queue"}) {
    WaitFor(client, "PipelineRun", ns.name(), RunName(p, c1),
            [](const json& r) { return !S(r).value("podName", "").empty(); });
  }
  const std::string c2 = app_->Commit({{"a", "2"}}, "two");
  // Replace: the run of c1 is cancelled once c2's run exists; c2's runs.
  json old_run = WaitFor(client, "PipelineRun", ns.name(), RunName("rep", c1),
                         [](const json& r) { return Phase(r) == "Cancelled"; });
  EXPECT_EQ(Phase(old_run), "Cancelled") << old_run.dump(2);
  EXPECT_NE(old_run.dump().find(RunName("rep", c2)), std::string::npos)
      << "the message names the newer run: " << old_run.dump(2);
  json new_run = WaitFor(client, "PipelineRun", ns.name(), RunName("rep", c2),
                         [](const json& r) { return !S(r).value("podName", "").empty(); });
  EXPECT_FALSE(S(new_run).value("podName", "").empty());

  // Queue: c2's run waits, without a pod, until c1's run ends.
  json queued = WaitFor(client, "PipelineRun", ns.name(), RunName("queue", c2),
                        [](const json& r) { return r.dump().find("Queued") != std::string::npos; });
  EXPECT_EQ(Phase(queued), "Pending") << queued.dump(2);
  std::this_thread::sleep_for(2s);
  EXPECT_TRUE(Get(client, "Pod", ns.name(), RunName("queue", c2)).empty());
  EXPECT_EQ(Phase(Get(client, "PipelineRun", ns.name(), RunName("queue", c1))), "Running")
      << "kwok runs the older run's pod until the test finishes it";
  Succeed(client, ns.name(), RunName("queue", c1));
  json next = WaitFor(client, "PipelineRun", ns.name(), RunName("queue", c2),
                      [](const json& r) { return !S(r).value("podName", "").empty(); });
  EXPECT_FALSE(S(next).value("podName", "").empty()) << next.dump(2);
  EXPECT_EQ(Phase(Get(client, "PipelineRun", ns.name(), RunName("queue", c1))), "Succeeded");
}

TEST_F(PipelineTest, HistoryLimitPrunesTheOldestFinishedRuns) {
  FLYWHEEL_REQUIRE_TESTENV(env);
  ScopedNamespace ns(*env, "pl-prune");
  auto client = env->Client();
  ControllerProcess controller(*env, ns.name());
  std::vector<std::string> commits;
  commits.push_back(app_->Commit({{"a", "0"}}, "c0"));
  ASSERT_TRUE(client
                  .Create(PipelineObject(ns.name(), "web", app_->FileUrl(),
                                         {{"concurrency", "Allow"},
                                          {"historyLimit", {{"succeeded", 2}, {"failed", 1}}}}))
                  .ok());
  for (int i = 0; i < 4; ++i) {
    if (i > 0) commits.push_back(app_->Commit({{"a", std::to_string(i)}}, "c" + std::to_string(i)));
    const std::string name = RunName("web", commits.back());
    WaitFor(client, "PipelineRun", ns.name(), name,
            [](const json& r) { return !S(r).value("podName", "").empty(); });
    Succeed(client, ns.name(), name);
    WaitFor(client, "PipelineRun", ns.name(), name,
            [](const json& r) { return Phase(r) == "Succeeded"; });
    std::this_thread::sleep_for(1100ms);  // distinct completion times (RFC 3339 seconds)
  }
  std::vector<std::string> want = {RunName("web", commits[2]), RunName("web", commits[3])};
  std::sort(want.begin(), want.end());
  EXPECT_TRUE(Eventually([&] { return Runs(client, ns.name()) == want; }, 30s))
      << ::testing::PrintToString(Runs(client, ns.name()));
}

TEST_F(PipelineTest, AWebhookAndThePollDeliveringOneCommitMakeOneRun) {
  FLYWHEEL_REQUIRE_TESTENV(env);
  ScopedNamespace ns(*env, "pl-hook");
  auto client = env->Client();
  const std::string c1 = app_->Commit({{"a", "1"}}, "one");
  const std::string secret = "hook-secret";
  ControllerProcess controller(*env, ns.name(), secret);
  ASSERT_TRUE(
      client
          .Create(PipelineObject(
              ns.name(), "hooked", app_->FileUrl(),
              {{"source", {{"url", app_->FileUrl()}, {"branch", "main"}, {"pollInterval", "1h"}}}}))
          .ok());
  WaitFor(client, "PipelineRun", ns.name(), RunName("hooked", c1),
          [](const json& r) { return !r.empty(); });
  const std::string c2 = app_->Commit({{"a", "2"}}, "two");
  const std::string body =
      json{{"ref", "refs/heads/main"},
           {"after", c2},
           {"repository", {{"clone_url", app_->FileUrl()}, {"full_name", "t/app"}}}}
          .dump();
  // The same push delivered three times (two deliveries, one replayed): one run.
  ASSERT_TRUE(Eventually(
      [&] { return PostGitHubPush(controller.webhook_port(), secret, body, "d-1") == 202; }, 30s));
  EXPECT_EQ(PostGitHubPush(controller.webhook_port(), secret, body, "d-2"), 202);
  PostGitHubPush(controller.webhook_port(), secret, body, "d-1");
  json run = WaitFor(
      client, "PipelineRun", ns.name(), RunName("hooked", c2),
      [](const json& r) { return !r.empty(); }, 30s);
  ASSERT_FALSE(run.empty()) << "with a 1h poll interval only the webhook explains the run";
  std::this_thread::sleep_for(3s);
  std::vector<std::string> want = {RunName("hooked", c1), RunName("hooked", c2)};
  std::sort(want.begin(), want.end());
  EXPECT_EQ(Runs(client, ns.name()), want);
}

TEST_F(PipelineTest, AControllerKilledMidRunLosesNothingAndStartsNothingTwice) {
  FLYWHEEL_REQUIRE_TESTENV(env);
  ScopedNamespace ns(*env, "pl-kill");
  auto client = env->Client();
  const std::string c1 = app_->Commit({{"a", "1"}}, "one");
  auto controller = std::make_unique<ControllerProcess>(*env, ns.name());
  ASSERT_TRUE(client.Create(PipelineObject(ns.name(), "web", app_->FileUrl())).ok());
  const std::string name = RunName("web", c1);
  json run = WaitFor(client, "PipelineRun", ns.name(), name,
                     [](const json& r) { return !S(r).value("podName", "").empty(); });
  const std::string pod_uid = Get(client, "Pod", ns.name(), name)["metadata"].value("uid", "");
  ASSERT_FALSE(pod_uid.empty());
  controller->Kill();
  controller.reset();
  Succeed(client, ns.name(), name);  // the pod finishes while no controller runs
  ControllerProcess again(*env, ns.name());
  run = WaitFor(client, "PipelineRun", ns.name(), name,
                [](const json& r) { return Phase(r) == "Succeeded"; });
  EXPECT_EQ(Phase(run), "Succeeded") << run.dump(2);
  EXPECT_EQ(Get(client, "Pod", ns.name(), name)["metadata"].value("uid", ""), pod_uid)
      << "the pod was recreated";
  std::this_thread::sleep_for(2s);
  EXPECT_EQ(Runs(client, ns.name()), std::vector<std::string>{name});
  EXPECT_EQ(EventCount(client, ns.name(), "Started"), 1);
  EXPECT_EQ(EventCount(client, ns.name(), "Succeeded"), 1);
}

TEST_F(PipelineTest, ASuccessfulRunPromotesItsImageTagIntoTheGitOpsRepository) {
  FLYWHEEL_REQUIRE_TESTENV(env);
  ScopedNamespace ns(*env, "pl-promote");
  auto client = env->Client();
  GitRepo deploy(repos_, "deploy");
  const std::string manifest =
      "# the web app\n"
      "apiVersion: apps/v1\n"
      "kind: Deployment\n"
      "metadata: {name: web}\n"
      "spec:\n"
      "  template:\n"
      "    spec:\n"
      "      containers:\n"
      "        - name: web\n"
      "          image: registry.local:5000/acme/web:old   # bumped by Flywheel\n";
  deploy.Commit({{"apps/web/deployment.yaml", manifest}, {"README", "deploy\n"}}, "init");
  const std::string c1 = app_->Commit({{"a", "1"}}, "one");
  ControllerProcess controller(*env, ns.name());
  json pipeline = PipelineObject(ns.name(), "web", app_->FileUrl());
  pipeline["spec"]["artifact"] = {{"image", "registry.local:5000/acme/web"}};
  pipeline["spec"]["promote"] = {{"url", deploy.FileUrl()},
                                 {"paths", {"apps/web"}},
                                 {"author", {{"name", "bot"}, {"email", "bot@example.invalid"}}}};
  ASSERT_TRUE(client.Create(pipeline).ok());
  const std::string name = RunName("web", c1);
  WaitFor(client, "PipelineRun", ns.name(), name,
          [](const json& r) { return !S(r).value("podName", "").empty(); });
  const std::string digest = "sha256:" + std::string(64, 'a');
  SetPod(client, ns.name(), name, "Succeeded",
         {{"clone", "terminated"}, {"build", "terminated"}, {"test", "terminated"}},
         {{"build-image", "terminated", 0, digest + "\n"}});
  json run = WaitFor(client, "PipelineRun", ns.name(), name,
                     [](const json& r) { return Phase(r) == "Succeeded"; });
  ASSERT_EQ(Phase(run), "Succeeded") << run.dump(2);
  EXPECT_EQ(S(run)["artifact"].value("image", ""),
            "registry.local:5000/acme/web:" + c1.substr(0, 7));
  EXPECT_EQ(S(run)["artifact"].value("digest", ""), digest);
  const std::string promoted = S(run).value("promotion", json::object()).value("commit", "");
  EXPECT_EQ(promoted, deploy.Head()) << run.dump(2);
  std::string want = manifest;
  want.replace(want.find(":old"), 4, ":" + c1.substr(0, 7));
  EXPECT_EQ(deploy.Show("apps/web/deployment.yaml"), want) << "formatting kept byte for byte";
  auto log = deploy.Log();
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[0].second.substr(0, log[0].second.find('\n')),
            "Promote registry.local:5000/acme/web:" + c1.substr(0, 7));
  EXPECT_EQ(Step(run, "promote").value("phase", ""), "Succeeded");
  json p = WaitFor(client, "Pipeline", ns.name(), "web", [&](const json& o) {
    return S(o).value("lastArtifact", json::object()).value("promotedCommit", "") == promoted;
  });
  EXPECT_EQ(S(p)["lastArtifact"].value("digest", ""), digest) << p.dump(2);
}

TEST_F(PipelineTest, APromotePathWithoutTheImageFailsTheRunWithoutACommit) {
  FLYWHEEL_REQUIRE_TESTENV(env);
  ScopedNamespace ns(*env, "pl-nopromote");
  auto client = env->Client();
  GitRepo deploy(repos_, "deploy");
  const std::string head =
      deploy.Commit({{"apps/web/cm.yaml", ConfigMapYaml("web", "no image here")}}, "init");
  const std::string c1 = app_->Commit({{"a", "1"}}, "one");
  ControllerProcess controller(*env, ns.name());
  json pipeline = PipelineObject(ns.name(), "web", app_->FileUrl());
  pipeline["spec"]["artifact"] = {{"image", "registry.local:5000/acme/web"}};
  pipeline["spec"]["promote"] = {{"url", deploy.FileUrl()}, {"paths", {"apps/web"}}};
  ASSERT_TRUE(client.Create(pipeline).ok());
  const std::string name = RunName("web", c1);
  WaitFor(client, "PipelineRun", ns.name(), name,
          [](const json& r) { return !S(r).value("podName", "").empty(); });
  SetPod(client, ns.name(), name, "Succeeded",
         {{"clone", "terminated"}, {"build", "terminated"}, {"test", "terminated"}},
         {{"build-image", "terminated"}});
  json run = WaitFor(client, "PipelineRun", ns.name(), name,
                     [](const json& r) { return Phase(r) == "Failed"; });
  ASSERT_EQ(Phase(run), "Failed") << run.dump(2);
  EXPECT_NE(run.dump().find("no reference to image registry.local:5000/acme/web"),
            std::string::npos)
      << run.dump(2);
  EXPECT_EQ(Step(run, "promote").value("phase", ""), "Failed");
  EXPECT_EQ(deploy.Head(), head) << "nothing was pushed";
}

TEST_F(PipelineTest, AnUnknownBranchOrMissingSecretIsAConditionAndAnEvent) {
  FLYWHEEL_REQUIRE_TESTENV(env);
  ScopedNamespace ns(*env, "pl-bad");
  auto client = env->Client();
  app_->Commit({{"a", "1"}}, "one");
  ControllerProcess controller(*env, ns.name());
  ASSERT_TRUE(
      client
          .Create(PipelineObject(
              ns.name(), "nobranch", app_->FileUrl(),
              {{"source",
                {{"url", app_->FileUrl()}, {"branch", "release-9"}, {"pollInterval", "1s"}}}}))
          .ok());
  ASSERT_TRUE(client
                  .Create(PipelineObject(ns.name(), "nosecret", app_->FileUrl(),
                                         {{"source",
                                           {{"url", app_->FileUrl()},
                                            {"secretRef", {{"name", "absent"}}},
                                            {"pollInterval", "1s"}}}}))
                  .ok());
  auto ready = [](const json& p) {
    for (const auto& c : S(p).value("conditions", json::array()))
      if (c.value("type", "") == "Ready") return c;
    return json::object();
  };
  json p = WaitFor(client, "Pipeline", ns.name(), "nobranch",
                   [&](const json& o) { return ready(o).value("status", "") == "False"; });
  EXPECT_EQ(ready(p).value("reason", ""), "SourceNotFound") << p.dump(2);
  EXPECT_NE(ready(p).value("message", "").find("release-9"), std::string::npos) << p.dump(2);
  p = WaitFor(client, "Pipeline", ns.name(), "nosecret",
              [&](const json& o) { return ready(o).value("status", "") == "False"; });
  EXPECT_EQ(ready(p).value("reason", ""), "SecretNotFound") << p.dump(2);
  EXPECT_NE(ready(p).value("message", "").find("absent"), std::string::npos);
  EXPECT_TRUE(Eventually(
      [&] {
        return EventCount(client, ns.name(), "SourceNotFound") == 1 &&
               EventCount(client, ns.name(), "SecretNotFound") == 1;
      },
      30s));
  std::this_thread::sleep_for(2s);
  EXPECT_TRUE(Runs(client, ns.name()).empty());
  EXPECT_EQ(EventCount(client, ns.name(), "SourceNotFound"), 1) << "an Event per change only";
  // No run yet, but the Pipelines' series exist at 0 from their first reconcile, so PromQL's
  // increase() will count the first run.
  const std::string metrics = controller.Metrics();
  for (const char* pipeline : {"nobranch", "nosecret"}) {
    for (const char* result : {"succeeded", "failed", "cancelled", "timedout"}) {
      const std::string labels = "{namespace=\"" + ns.name() + "\",pipeline=\"" + pipeline +
                                 "\",result=\"" + result + "\"}";
      EXPECT_NE(metrics.find("\nflywheel_pipeline_runs_total" + labels + " 0\n"), std::string::npos)
          << labels << "\n"
          << metrics;
      EXPECT_NE(metrics.find("\nflywheel_pipeline_run_duration_seconds_count" + labels + " 0\n"),
                std::string::npos)
          << labels;
    }
  }
}

TEST_F(PipelineTest, TheCommandLineStartsCancelsAndShowsRuns) {
  FLYWHEEL_REQUIRE_TESTENV(env);
  ScopedNamespace ns(*env, "pl-cli");
  auto client = env->Client();
  const std::string c1 = app_->Commit({{"a", "1"}}, "one");
  ControllerProcess controller(*env, ns.name());
  ASSERT_TRUE(
      client.Create(PipelineObject(ns.name(), "web", app_->FileUrl(), {{"concurrency", "Allow"}}))
          .ok());
  const std::string first = RunName("web", c1);
  WaitFor(client, "PipelineRun", ns.name(), first,
          [](const json& r) { return !S(r).value("podName", "").empty(); });
  auto flywheel = [&](std::vector<std::string> args) {
    args.insert(args.begin(), FLYWHEEL_BINARY);
    args.insert(args.end(), {"--kubeconfig", env->kubeconfig(), "-n", ns.name()});
    return RunProcess(args);
  };
  // A re-run of the commit by a prefix of its SHA: a second run with a generated name.
  auto r = flywheel({"run", "web", "--revision", c1.substr(0, 10)});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("created for " + c1.substr(0, 7)), std::string::npos) << r.out;
  std::vector<std::string> runs = Runs(client, ns.name());
  ASSERT_EQ(runs.size(), 2u) << ::testing::PrintToString(runs);
  const std::string rerun = runs[0] == first ? runs[1] : runs[0];
  EXPECT_EQ(rerun.rfind(first + "-", 0), 0u) << rerun;
  EXPECT_EQ(Get(client, "PipelineRun", ns.name(), rerun)["spec"].value("revision", ""), c1);
  // An unknown prefix is refused before anything is created.
  r = flywheel({"run", "web", "--revision", "ffffff"});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("matches no revision"), std::string::npos) << r.err;

  // The first run's test step fails; logs shows its tail (kwok serves no log: the tail in
  // status), the cancel of the re-run waits until it is Cancelled.
  SetPod(client, ns.name(), first, "Failed", {{"clone", "terminated"}, {"build", "terminated"}},
         {{"test", "terminated", 1, "expected 4, got 5\n"}});
  WaitFor(client, "PipelineRun", ns.name(), first,
          [](const json& o) { return !Step(o, "test").value("logTail", "").empty(); });
  r = flywheel({"logs", first, "--step", "test", "--request-timeout", "2s"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("expected 4, got 5"), std::string::npos) << r.out << r.err;
  r = flywheel({"cancel", rerun, "--wait", "60s"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("Cancelled"), std::string::npos) << r.out;
  EXPECT_EQ(Phase(Get(client, "PipelineRun", ns.name(), rerun)), "Cancelled");
  r = flywheel({"get", "pipelineruns"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find(first), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Failed"), std::string::npos) << r.out;
}

TEST_F(PipelineTest, APodThePodSecurityAdmissionRefusesFailsTheRunWithItsWords) {
  FLYWHEEL_REQUIRE_TESTENV(env);
  ScopedNamespace ns(*env, "pl-psa");
  auto client = env->Client();
  auto r = env->Kubectl(
      {"label", "namespace", ns.name(), "pod-security.kubernetes.io/enforce=restricted"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string c1 = app_->Commit({{"a", "1"}}, "one");
  ControllerProcess controller(*env, ns.name());
  // The buildah builder needs capabilities the restricted level forbids.
  json pipeline = PipelineObject(ns.name(), "web", app_->FileUrl());
  pipeline["spec"]["artifact"] = {{"image", "registry.local:5000/acme/web"}};
  ASSERT_TRUE(client.Create(pipeline).ok());
  json run = WaitFor(client, "PipelineRun", ns.name(), RunName("web", c1),
                     [](const json& o) { return Phase(o) == "Failed"; });
  ASSERT_EQ(Phase(run), "Failed") << run.dump(2);
  const std::string dump = run.dump();
  EXPECT_NE(dump.find("PodRejected"), std::string::npos) << run.dump(2);
  EXPECT_NE(dump.find("restricted"), std::string::npos) << "the admission's own words: " << dump;
  EXPECT_TRUE(Get(client, "Pod", ns.name(), RunName("web", c1)).empty());
  EXPECT_TRUE(Eventually([&] { return EventCount(client, ns.name(), "PodRejected") == 1; }, 30s));
}

TEST_F(PipelineTest, APromotionOverHttpUsesItsSecretAndAProtectedBranchFailsTheRunOnce) {
  FLYWHEEL_REQUIRE_TESTENV(env);
  ScopedNamespace ns(*env, "pl-http");
  auto client = env->Client();
  const std::string password = "pr0mote-pw";
  GitRepo deploy(repos_, "deploy");
  GitHttpServer http(repos_, "bot", password);
  const std::string manifest =
      "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n"
      "  containers: [{name: web, image: \"reg.local/web:old\"}]\n";
  deploy.Commit({{"web/pod.yaml", manifest}}, "init");
  ASSERT_TRUE(
      client
          .Create(
              {{"apiVersion", "v1"},
               {"kind", "Secret"},
               {"metadata", {{"name", "deploy-git"}, {"namespace", ns.name()}}},
               {"data", {{"username", Base64Encode("bot")}, {"password", Base64Encode(password)}}}})
          .ok());
  const std::string c1 = app_->Commit({{"a", "1"}}, "one");
  ControllerProcess controller(*env, ns.name());
  json pipeline = PipelineObject(ns.name(), "web", app_->FileUrl());
  pipeline["spec"]["artifact"] = {{"image", "reg.local/web"}};
  pipeline["spec"]["promote"] = {
      {"url", http.Url("deploy")}, {"paths", {"web"}}, {"secretRef", {{"name", "deploy-git"}}}};
  ASSERT_TRUE(client.Create(pipeline).ok());
  auto build = [&](const std::string& name) {
    WaitFor(client, "PipelineRun", ns.name(), name,
            [](const json& r) { return !S(r).value("podName", "").empty(); });
    SetPod(client, ns.name(), name, "Succeeded",
           {{"clone", "terminated"}, {"build", "terminated"}, {"test", "terminated"}},
           {{"build-image", "terminated"}});
    return WaitFor(client, "PipelineRun", ns.name(), name,
                   [](const json& r) { return Phase(r) == "Succeeded" || Phase(r) == "Failed"; });
  };
  json run = build(RunName("web", c1));
  ASSERT_EQ(Phase(run), "Succeeded") << run.dump(2);
  EXPECT_EQ(S(run)["promotion"].value("commit", ""), deploy.Head());
  EXPECT_EQ(S(run)["promotion"].value("url", ""), http.Url("deploy"));
  EXPECT_NE(deploy.Show("web/pod.yaml").find("reg.local/web:" + c1.substr(0, 7)),
            std::string::npos);

  // The branch becomes protected: the next promotion is refused for good, once.
  const std::string hook = deploy.bare_path() + "/hooks/pre-receive";
  std::ofstream(hook) << "#!/bin/sh\necho 'main is protected' >&2\nexit 1\n";
  ASSERT_EQ(std::system(("chmod 0755 " + hook).c_str()), 0);
  const std::string head = deploy.Head();
  const std::string c2 = app_->Commit({{"a", "2"}}, "two");
  run = build(RunName("web", c2));
  ASSERT_EQ(Phase(run), "Failed") << run.dump(2);
  EXPECT_NE(run.dump().find("PromotionFailed"), std::string::npos) << run.dump(2);
  EXPECT_NE(run.dump().find("rejected: pre-receive hook declined (the server said: main is "
                            "protected)"),
            std::string::npos)
      << run.dump(2);
  EXPECT_EQ(deploy.Head(), head);
  EXPECT_TRUE(Eventually(
      [&] {
        return controller.Metrics().find("flywheel_pipeline_promotions_total{namespace=\"" +
                                         ns.name() + "\",pipeline=\"web\",result=\"failed\"} 1") !=
               std::string::npos;
      },
      30s))
      << controller.Metrics();
  EXPECT_EQ(controller.Log().find(password), std::string::npos);
  EXPECT_EQ(run.dump().find(password), std::string::npos);
}

}  // namespace
}  // namespace flywheel::testing
