// `flywheel timeline` as a user runs it, against the story of support/delivery_story.h stored in
// the real API server: a Pipeline, its runs with the status the run controller writes, a build
// pod with the clone's termination message, a Release with history and a rollback, a
// RollbackPolicy that breached, and events.k8s.io/v1 Events. The test writes them (no
// controller), so every time in the timeline is known exactly.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "support/crds.h"
#include "support/delivery_story.h"
#include "support/net.h"
#include "support/notify_receiver.h"
#include "support/operator.h"
#include "support/process.h"
#include "support/testenv.h"

namespace flywheel::testing {
namespace {

using nlohmann::json;

class TimelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    env_ = TestEnv::Get(&why);
    if (env_ == nullptr) GTEST_SKIP() << why;
    ASSERT_NO_FATAL_FAILURE(InstallCrds(*env_));
    ns_ = std::make_unique<ScopedNamespace>(*env_, "timeline");
    client_ = std::make_unique<kube::Client>(env_->Client());
  }

  // Creates `object` (what the server sets itself removed), then writes its status through the
  // status subresource as a controller or the kubelet does; returns the stored object.
  json Store(json object) {
    json status = object.value("status", json());
    object.erase("status");
    object["metadata"].erase("uid");
    object["metadata"].erase("creationTimestamp");
    auto created = client_->Create(object);
    EXPECT_TRUE(created.ok()) << created.status().ToString() << "\n" << object.dump();
    if (!created.ok() || status.is_null()) return created.ok() ? *created : json::object();
    (*created)["status"] = status;
    auto updated = client_->UpdateStatus(*created);
    EXPECT_TRUE(updated.ok()) << updated.status().ToString() << "\n" << status.dump();
    return updated.ok() ? *updated : json::object();
  }

  // The story of support/delivery_story.h, written as its controllers would have.
  void WriteStory() {
    DeliveryStory story = MakeDeliveryStory(ns_->name());
    Store(story.pipeline);
    std::string good_uid;
    for (const json& run : story.runs) {
      json stored = Store(run);
      if (run["spec"]["revision"] == kStoryGood) good_uid = stored["metadata"].value("uid", "");
    }
    ASSERT_FALSE(good_uid.empty());
    // The good run's build pod, never scheduled (so no kwok node writes its status): the test
    // writes what a kubelet would have.
    story.pod["metadata"]["ownerReferences"][0]["uid"] = good_uid;
    story.pod["spec"]["schedulerName"] = "flywheel-test-no-scheduler";
    Store(story.pod);
    Store(story.release);
    Store(story.policy);
    for (const json& event : story.events) Store(event);
  }

  ProcessResult Flywheel(std::vector<std::string> args) {
    args.insert(args.begin(), FLYWHEEL_BINARY);
    for (const std::string& a :
         std::vector<std::string>{"--kubeconfig", env_->kubeconfig(), "-n", ns_->name()})
      args.push_back(a);
    return RunProcess(args);
  }

  const TestEnv* env_ = nullptr;
  std::unique_ptr<ScopedNamespace> ns_;
  std::unique_ptr<kube::Client> client_;
};

std::string LineStartingWith(const std::string& text, const std::string& prefix) {
  size_t at = text.find("\n" + prefix);
  if (at == std::string::npos) return "";
  size_t end = text.find('\n', at + 1);
  return text.substr(at + 1, end == std::string::npos ? std::string::npos : end - at - 1);
}

json Stage(const json& delivery, const std::string& name) {
  for (const json& s : delivery["stages"]) {
    if (s["stage"] == name) return s;
  }
  ADD_FAILURE() << "no stage " << name << " in " << delivery.dump();
  return json::object();
}

TEST_F(TimelineTest, ReleaseDeliveriesAsTableAndJson) {
  ASSERT_NO_FATAL_FAILURE(WriteStory());

  auto r = Flywheel({"timeline", "web", "-o", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json j = json::parse(r.out);
  EXPECT_EQ(j["release"]["namespace"], ns_->name());
  ASSERT_EQ(j["deliveries"].size(), 3u) << j.dump(2);
  const json& good = j["deliveries"][0];
  EXPECT_EQ(good["revision"], kStoryGood);
  EXPECT_EQ(good["subject"], "Make the title bold");
  EXPECT_EQ(good["author"], "Jane Doe <jane@example.com>");
  EXPECT_EQ(good["outcome"], "Healthy");
  EXPECT_EQ(Stage(good, "committed")["time"], StoryTime(-60));
  EXPECT_EQ(Stage(good, "image pushed")["detail"],
            "registry.example.invalid/demo/hello:1111111@" + kStoryDigest);
  EXPECT_EQ(Stage(good, "promoted")["time"], StoryTime(17));
  EXPECT_EQ(Stage(good, "applied")["time"], StoryTime(18));
  EXPECT_EQ(Stage(good, "healthy")["time"], StoryTime(21));
  EXPECT_EQ(Stage(good, "healthy")["sincePrevious"], 3.0);
  EXPECT_EQ(Stage(good, "breach")["time"], StoryTime(30));
  EXPECT_TRUE(Stage(good, "rolled back")["time"].is_null());

  const json& failing = j["deliveries"][1];
  EXPECT_EQ(failing["outcome"], "Failed (StepFailed)");
  EXPECT_EQ(Stage(failing, "run finished")["time"], StoryTime(108));
  EXPECT_TRUE(Stage(failing, "promoted")["time"].is_null());
  EXPECT_TRUE(Stage(failing, "applied")["time"].is_null());
  EXPECT_TRUE(failing["subject"].is_null());  // its pod is gone

  const json& bad = j["deliveries"][2];
  EXPECT_EQ(bad["outcome"], "RolledBack, restored");
  EXPECT_EQ(bad["promotionCommit"], kStoryM3);
  EXPECT_EQ(Stage(bad, "applied")["time"], StoryTime(218));
  EXPECT_EQ(Stage(bad, "breach")["time"], StoryTime(228));
  EXPECT_EQ(Stage(bad, "rollback requested")["time"], StoryTime(239));
  EXPECT_EQ(Stage(bad, "rolled back")["time"], StoryTime(240));
  EXPECT_EQ(Stage(bad, "rolled back")["sincePrevious"], 1.0);
  EXPECT_NE(Stage(bad, "rolled back")["detail"].get<std::string>().find("revert commit dddd444"),
            std::string::npos);
  EXPECT_EQ(Stage(bad, "restored")["time"], StoryTime(243));

  r = Flywheel({"timeline", "web"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const std::string& line :
       std::vector<std::string>{"Release " + ns_->name() + "/web: 3 deliveries, oldest first",
                                "DELIVERY 1  1111111  Make the title bold  [Healthy]",
                                "DELIVERY 2  2222222  [Failed (StepFailed)]",
                                "DELIVERY 3  3333333  [RolledBack, restored]",
                                "  rolled back         " + StoryTime(240) +
                                    "  +1s    to aaaa111 by RollbackPolicy/errors",
                                "  promoted            -                     -      -\n"}) {
    EXPECT_NE(r.out.find(line), std::string::npos) << "missing: " << line << "\nin:\n" << r.out;
  }
}

TEST_F(TimelineTest, OneRunStepByStep) {
  ASSERT_NO_FATAL_FAILURE(WriteStory());
  auto r = Flywheel({"timeline", "run", "hello-1111111", "-o", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json j = json::parse(r.out);
  EXPECT_EQ(j["run"]["phase"], "Succeeded");
  std::vector<std::string> names;
  for (const json& s : j["stages"]) names.push_back(s["stage"]);
  EXPECT_EQ(names, (std::vector<std::string>{
                       "created", "pod created", "pod scheduled", "pod started", "clone started",
                       "clone finished", "test started", "test finished", "build-image started",
                       "build-image finished", "promote started", "promote finished", "finished"}));
  EXPECT_EQ(j["stages"][2]["time"], StoryTime(1));  // the pod's PodScheduled condition
  EXPECT_EQ(j["stages"][3]["time"], StoryTime(2));
  EXPECT_EQ(j["stages"][11]["detail"], "Succeeded (Pushed): commit aaaa111");

  r = Flywheel({"timeline", "run", "hello-2222222"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // The run was created now, long after the times its status claims: gaps and widths vary.
  const std::string line = LineStartingWith(r.out, "  test finished ");
  for (const std::string& part :
       std::vector<std::string>{StoryTime(108), " +5s ", "Failed, exit code 1"})
    EXPECT_NE(line.find(part), std::string::npos) << part << " missing in\n" << r.out;

  r = Flywheel({"timeline", "no-such-release"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("flywheel timeline: "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("not found"), std::string::npos) << r.err;
}

// --zipkin-url sends the deliveries as Zipkin v2 spans to a collector (here a local receiver
// that records what it is sent); a collector that is not there fails the command.
TEST_F(TimelineTest, DeliveriesExportedAsTraces) {
  ASSERT_NO_FATAL_FAILURE(WriteStory());
  NotifyReceiver collector;
  ASSERT_TRUE(collector.ok()) << collector.error();
  auto r = Flywheel({"timeline", "web", "-o", "json", "--zipkin-url", collector.url()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("flywheel timeline: sent 23 spans to http://127.0.0.1:"), std::string::npos)
      << r.err;
  auto received = collector.Received();
  ASSERT_EQ(received.size(), 1u);
  const json& spans = received[0];
  ASSERT_TRUE(spans.is_array());
  ASSERT_EQ(spans.size(), 23u) << spans.dump(2);
  EXPECT_EQ(spans[0]["name"], "delivery 1111111");
  EXPECT_EQ(spans[0]["tags"]["release"], ns_->name() + "/web");
  EXPECT_EQ(spans[1]["parentId"], spans[0]["id"]);

  const int closed = FreePort();
  r = Flywheel({"timeline", "web", "--zipkin-url",
                "http://127.0.0.1:" + std::to_string(closed) + "/secret-token/api/v2/spans"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("flywheel timeline: cannot send the traces to http://127.0.0.1:" +
                       std::to_string(closed)),
            std::string::npos)
      << r.err;
  EXPECT_EQ(r.err.find("secret-token"), std::string::npos) << r.err;
}

// A user who may read Flywheel's objects but not pods nor Events gets the timeline without what
// only those record, and says so on stderr.
TEST_F(TimelineTest, WhatTheReaderMayNotListIsUnknownAndSaid) {
  ASSERT_NO_FATAL_FAILURE(WriteStory());
  const std::string role = R"(
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: timeline-reader}
rules:
- apiGroups: [flywheel.dev]
  resources: [pipelines, pipelineruns, releases, rollbackpolicies]
  verbs: [get, list]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: timeline-reader}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: timeline-reader}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: timeline-reader}]
)";
  auto applied = env_->Kubectl({"apply", "-n", ns_->name(), "-f", "-"}, role);
  ASSERT_EQ(applied.exit_code, 0) << applied.err;
  const std::string tmp = TempDir("flywheel-timeline");
  const std::string kubeconfig = tmp + "/kubeconfig";
  const std::string dir = std::filesystem::absolute(env_->dir()).string();
  env_->WriteKubeconfig(kubeconfig, "{client-certificate: " + dir + "/pki/admin.crt, client-key: " +
                                        dir + "/pki/admin.key, as: timeline-reader}");
  auto r = RunProcess({FLYWHEEL_BINARY, "timeline", "web", "-o", "json", "--kubeconfig", kubeconfig,
                       "-n", ns_->name()});
  std::filesystem::remove_all(tmp);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const std::string& what :
       {std::string("cannot read build pods"), std::string("cannot read Events")})
    EXPECT_NE(r.err.find("flywheel timeline: warning: " + what), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("forbidden"), std::string::npos) << r.err;
  json j = json::parse(r.out);
  ASSERT_EQ(j["deliveries"].size(), 3u) << j.dump(2);
  const json& good = j["deliveries"][0];
  EXPECT_TRUE(good["subject"].is_null());                                  // from the build pod
  EXPECT_TRUE(Stage(good, "breach")["time"].is_null());                    // from an Event
  EXPECT_EQ(Stage(good, "applied")["time"], StoryTime(18));                // from the Release
  EXPECT_EQ(Stage(j["deliveries"][2], "breach")["time"], StoryTime(228));  // the policy's status
}

}  // namespace
}  // namespace flywheel::testing
