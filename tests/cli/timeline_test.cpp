// The timeline assembled from objects shaped as the controllers write them (the story of
// tests/support/delivery_story.h: PipelineRun status, the clone's termination message, the
// Release's history and lastRollback, the RollbackPolicy's status, Events), then changed case by
// case.
#include "flywheel/cli/timeline.h"

#include <gtest/gtest.h>

#include <sstream>

#include "flywheel/cli/app.h"
#include "support/delivery_story.h"

namespace flywheel::cli {
namespace {

using nlohmann::json;
using testing::kStoryBad;
using testing::kStoryDigest;
using testing::kStoryFailing;
using testing::kStoryGood;
using testing::StoryTime;

const std::string kNs = "team-a";

Time T(int s) { return *ParseRfc3339(StoryTime(s)); }

json Event(const std::string& kind, const std::string& name, const std::string& reason,
           const std::string& note, int at) {
  return {{"apiVersion", "events.k8s.io/v1"},
          {"kind", "Event"},
          {"metadata", {{"name", name + ".17a"}, {"namespace", kNs}}},
          {"eventTime", FormatRfc3339Micro(T(at) + std::chrono::milliseconds(250))},
          {"reason", reason},
          {"type", "Normal"},
          {"note", note},
          {"regarding", {{"apiVersion", "flywheel.dev/v1alpha1"}, {"kind", kind}, {"name", name}}}};
}

const TimelineStage& StageOf(const Delivery& d, const std::string& name) {
  for (const auto& s : d.stages) {
    if (s.name == name) return s;
  }
  static const TimelineStage none;
  ADD_FAILURE() << "no stage " << name;
  return none;
}

const Delivery& ByRevision(const std::vector<Delivery>& all, const std::string& rev) {
  for (const auto& d : all) {
    if (d.revision == rev) return d;
  }
  static const Delivery none;
  ADD_FAILURE() << "no delivery of " << rev;
  return none;
}

// The story as Lists, plus a Pipeline promoting into another repository and its run.
ReleaseTimelineInput Story() {
  testing::DeliveryStory s = testing::MakeDeliveryStory(kNs);
  json other = s.pipeline;
  other["metadata"]["name"] = "other";
  other["spec"]["promote"]["url"] = "https://git.example.invalid/acme/elsewhere.git";
  json unrelated = s.runs[0];
  unrelated["metadata"]["name"] = "other-1111111";
  unrelated["spec"]["pipelineRef"]["name"] = "other";
  unrelated["status"]["promotion"]["commit"] = "eeee999000000000000000000000000000000000";
  ReleaseTimelineInput in;
  in.release = s.release;
  in.pipelines = {{"items", {s.pipeline, other}}};
  in.runs = {{"items", {s.runs[2], s.runs[0], unrelated, s.runs[1]}}};
  in.pods = {{"items", {s.pod}}};
  in.events = {{"items", s.events}};
  in.policies = {{"items", {s.policy}}};
  return in;
}

TEST(TimelineTest, DeliveriesOldestFirstOnlyFromRunsFeedingTheRelease) {
  auto all = AssembleReleaseTimeline(Story());
  ASSERT_EQ(all.size(), 3u);  // the run of Pipeline "other" promotes elsewhere
  EXPECT_EQ(all[0].revision, kStoryGood);
  EXPECT_EQ(all[1].revision, kStoryFailing);
  EXPECT_EQ(all[2].revision, kStoryBad);
  for (const auto& d : all) {
    ASSERT_EQ(d.stages.size(), kDeliveryStages.size());
    for (size_t i = 0; i < d.stages.size(); ++i) EXPECT_EQ(d.stages[i].name, kDeliveryStages[i]);
  }
}

TEST(TimelineTest, GoodDeliveryFromCommitToHealthy) {
  auto all = AssembleReleaseTimeline(Story());
  const Delivery& d = ByRevision(all, kStoryGood);
  EXPECT_EQ(d.subject, "Make the title bold");
  EXPECT_EQ(d.author, "Jane Doe <jane@example.com>");
  EXPECT_EQ(d.run, "hello-1111111");
  EXPECT_EQ(d.digest, kStoryDigest);
  EXPECT_EQ(d.promotion_commit, testing::kStoryM1);
  EXPECT_EQ(d.applied_revision, testing::kStoryM1);
  EXPECT_EQ(d.outcome, "Healthy");
  EXPECT_EQ(StageOf(d, "committed").at, T(-60));
  EXPECT_EQ(StageOf(d, "committed").detail,
            "1111111 Make the title bold (Jane Doe <jane@example.com>)");
  EXPECT_EQ(StageOf(d, "run started").at, T(1));
  EXPECT_EQ(StageOf(d, "image pushed").at, T(15));
  EXPECT_EQ(StageOf(d, "image pushed").detail,
            "registry.example.invalid/demo/hello:1111111@" + kStoryDigest);
  EXPECT_EQ(StageOf(d, "promoted").at, T(17));
  EXPECT_EQ(StageOf(d, "promoted").detail, "commit aaaa111 on main");
  EXPECT_EQ(StageOf(d, "run finished").detail, "Succeeded");
  EXPECT_EQ(StageOf(d, "applied").at, T(18));
  EXPECT_EQ(StageOf(d, "healthy").at, T(21));
  // A breach that ended by itself: its Event (the policy's status is about a later revision).
  EXPECT_EQ(StageOf(d, "breach").at, T(30));
  EXPECT_EQ(StageOf(d, "breach").detail, "error-ratio 0.07 > 0.05 (revision aaaa111)");
  for (const char* none : {"rollback requested", "rolled back", "restored"})
    EXPECT_FALSE(StageOf(d, none).at.has_value()) << none;
}

TEST(TimelineTest, FailedRunNeverPromotedStopsAtItsEnd) {
  auto all = AssembleReleaseTimeline(Story());
  const Delivery& d = ByRevision(all, kStoryFailing);
  EXPECT_EQ(d.outcome, "Failed (StepFailed)");
  EXPECT_EQ(d.subject, "");  // its pod is gone
  EXPECT_EQ(StageOf(d, "run started").at, T(101));
  EXPECT_EQ(StageOf(d, "run finished").at, T(108));
  EXPECT_EQ(StageOf(d, "run finished").detail,
            "Failed (StepFailed): step \"test\" failed with exit code 1 (Error)");
  for (const char* none : {"committed", "image pushed", "promoted", "applied", "healthy", "breach",
                           "rollback requested", "rolled back", "restored"})
    EXPECT_FALSE(StageOf(d, none).at.has_value()) << none;
  EXPECT_TRUE(d.promotion_commit.empty());
  EXPECT_TRUE(d.applied_revision.empty());
}

TEST(TimelineTest, RolledBackDeliveryWithBreachRevertAndRestore) {
  auto all = AssembleReleaseTimeline(Story());
  const Delivery& d = ByRevision(all, kStoryBad);
  EXPECT_EQ(d.outcome, "RolledBack, restored");
  EXPECT_EQ(StageOf(d, "applied").at, T(218));
  EXPECT_EQ(StageOf(d, "healthy").at, T(220));
  EXPECT_EQ(StageOf(d, "breach").at, T(228));
  EXPECT_EQ(StageOf(d, "breach").detail, "errors: error-ratio Breaching at 0.2");
  EXPECT_EQ(StageOf(d, "rollback requested").at, T(239));
  EXPECT_EQ(StageOf(d, "rollback requested").detail,
            "errors: error-ratio: error-ratio 0.2 > 0.05 for 10s");
  EXPECT_EQ(StageOf(d, "rolled back").at, T(240));
  EXPECT_EQ(StageOf(d, "rolled back").detail,
            "to aaaa111 by RollbackPolicy/errors: error-ratio 0.2 > 0.05 for 10s; revert commit "
            "dddd444");
  EXPECT_EQ(StageOf(d, "restored").at, T(243));
  EXPECT_EQ(StageOf(d, "restored").detail, "healthy on dddd444");
}

TEST(TimelineTest, ADryRunPolicySaysItSentNothing) {
  ReleaseTimelineInput in = Story();
  in.policies["items"][0]["status"]["lastRollback"]["dryRun"] = true;
  auto all = AssembleReleaseTimeline(in);
  const Delivery& d = ByRevision(all, kStoryBad);
  EXPECT_EQ(StageOf(d, "rollback requested").detail,
            "errors (dry run, not sent): error-ratio: error-ratio 0.2 > 0.05 for 10s");
}

// Once a newer revision runs, the policy's status is about it, and lastRollback may be about a
// later rollback: an older rollback is told by the Release's rejection and the Events.
TEST(TimelineTest, EarlierRollbackFromRejectionAndEvents) {
  ReleaseTimelineInput in = Story();
  json& status = in.release["status"];
  json m5 = status["history"][1];
  m5["revision"] = "eeee555000000000000000000000000000000000";
  m5["appliedAt"] = StoryTime(400);
  m5["healthyAt"] = StoryTime(402);
  status["history"].insert(status["history"].begin(), m5);
  status.erase("lastRollback");
  in.policies["items"][0]["status"] = {
      {"phase", "Watching"}, {"watchedRevision", m5["revision"]}, {"metrics", json::array()}};
  in.events["items"] = {
      Event("RollbackPolicy", "errors", "Breaching",
            "error-ratio 0.2 > 0.05 for 10s (revision cccc333)", 228),
      Event("RollbackPolicy", "errors", "Breaching",
            "error-ratio 0.3 > 0.05 for 10s (revision eeee555)", 410),
      Event("Release", "web", "RolledBack",
            "rolled back from cccc333 to aaaa111: error-ratio (by RollbackPolicy/errors)", 240),
      Event("Release", "web", "Restored",
            "revision dddd444 is healthy again after the rollback from cccc333", 243)};
  auto all = AssembleReleaseTimeline(in);
  const Delivery& d = ByRevision(all, kStoryBad);
  EXPECT_EQ(StageOf(d, "breach").at, T(228) + std::chrono::milliseconds(250));
  EXPECT_EQ(StageOf(d, "breach").detail, "error-ratio 0.2 > 0.05 for 10s (revision cccc333)");
  EXPECT_FALSE(StageOf(d, "rollback requested").at.has_value());
  EXPECT_EQ(StageOf(d, "rolled back").at, T(240));  // rejectedAt, to the second
  EXPECT_EQ(StageOf(d, "rolled back").detail,
            "error-ratio 0.2 > 0.05 for 10s (by RollbackPolicy/errors)");
  EXPECT_EQ(StageOf(d, "restored").at, T(243) + std::chrono::milliseconds(250));
  EXPECT_EQ(d.outcome, "RolledBack, restored");
  // The manifest commit made without a run is a delivery of its own, newest last.
  ASSERT_EQ(all.size(), 4u);
  EXPECT_EQ(all.back().revision, m5["revision"]);
  EXPECT_EQ(all.back().subject, "Promote registry.example.invalid/demo/hello:1111111");
  EXPECT_EQ(all.back().run, "");
  EXPECT_EQ(StageOf(all.back(), "committed").at, T(17));
  EXPECT_EQ(StageOf(all.back(), "applied").at, T(400));
  EXPECT_EQ(StageOf(all.back(), "breach").at, T(410) + std::chrono::milliseconds(250));
  EXPECT_EQ(all.back().outcome, "Healthy");

  // Without the rejection either (trimmed), the Release's RolledBack Event.
  status.erase("rejectedRevisions");
  auto again = AssembleReleaseTimeline(in);
  const Delivery& from_event = ByRevision(again, kStoryBad);
  EXPECT_EQ(StageOf(from_event, "rolled back").at, T(240) + std::chrono::milliseconds(250));
}

TEST(TimelineTest, MissingPiecesStayUnknown) {
  ReleaseTimelineInput in = Story();
  in.pods = json::array();                // pruned pods: no commit subject or author
  in.release["status"] = json::object();  // nothing applied yet
  in.policies = json::array();
  in.events = json::array();
  json& bad = in.runs["items"][0]["status"];  // still promoting
  bad.erase("promotion");
  bad.erase("completionTime");
  bad["phase"] = "Running";
  bad["conditions"][0]["status"] = "Unknown";
  bad["conditions"][0]["reason"] = "Promoting";
  bad["conditions"][0]["message"] =
      "promotion will be retried: cannot fetch https://git.example.invalid/acme/deploy.git";
  bad["steps"][3] = {{"name", "promote"}, {"phase", "Running"}, {"startedAt", StoryTime(216)}};
  auto all = AssembleReleaseTimeline(in);
  ASSERT_EQ(all.size(), 3u);
  const Delivery& good = ByRevision(all, kStoryGood);
  EXPECT_EQ(good.subject, "");
  EXPECT_FALSE(StageOf(good, "committed").at.has_value());
  EXPECT_EQ(StageOf(good, "committed").detail, "1111111");
  EXPECT_EQ(StageOf(good, "promoted").at, T(17));
  EXPECT_FALSE(StageOf(good, "applied").at.has_value());
  EXPECT_FALSE(StageOf(good, "breach").at.has_value());
  EXPECT_EQ(good.outcome, "Promoted");
  const Delivery& running = ByRevision(all, kStoryBad);
  EXPECT_EQ(running.outcome, "Running (Promoting)");
  EXPECT_FALSE(StageOf(running, "promoted").at.has_value());
  EXPECT_FALSE(StageOf(running, "run finished").at.has_value());

  std::ostringstream out;
  PrintReleaseTimeline(out, kNs, "web", all);
  const std::string text = out.str();
  EXPECT_NE(text.find("Release team-a/web: 3 deliveries, oldest first"), std::string::npos) << text;
  EXPECT_NE(text.find("\n  applied" + std::string(13, ' ') + "-"), std::string::npos) << text;
}

// As the Release controller records a revision whose dry run failed: no appliedAt, the reason
// (several lines) in the entry. The table keeps it on the stage's row.
TEST(TimelineTest, AFailedSyncSaysWhyOnOneRow) {
  ReleaseTimelineInput in = Story();
  json& m1 = in.release["status"]["history"][1];
  m1.erase("appliedAt");
  m1.erase("healthyAt");
  m1["result"] = "Failed";
  m1["reason"] =
      "dry run failed for 1 of 1 objects, nothing was applied:\napps/web/deployment.yaml:2: "
      "Deployment team-a/web: spec.selector: Required value";
  auto all = AssembleReleaseTimeline(in);
  const Delivery& d = ByRevision(all, kStoryGood);
  EXPECT_EQ(d.outcome, "SyncFailed");
  EXPECT_FALSE(StageOf(d, "applied").at.has_value());
  std::ostringstream out;
  PrintReleaseTimeline(out, kNs, "web", {d});
  EXPECT_NE(out.str().find("revision aaaa111 failed: dry run failed for 1 of 1 objects, nothing "
                           "was applied: apps/web/deployment.yaml:2: Deployment"),
            std::string::npos)
      << out.str();
}

TEST(TimelineTest, AReleaseWithoutAnythingSaysSo) {
  ReleaseTimelineInput in;
  in.release = testing::MakeDeliveryStory(kNs).release;
  in.release["status"] = json::object();
  auto all = AssembleReleaseTimeline(in);
  EXPECT_TRUE(all.empty());
  std::ostringstream out;
  PrintReleaseTimeline(out, kNs, "web", all);
  EXPECT_NE(out.str().find("has no deliveries yet"), std::string::npos) << out.str();
}

TEST(TimelineTest, TableAlignsStagesWithGaps) {
  auto all = AssembleReleaseTimeline(Story());
  std::ostringstream out;
  PrintReleaseTimeline(out, kNs, "web", {all[0]});
  EXPECT_EQ(out.str(),
            "Release team-a/web: 1 delivery, oldest first\n"
            "\n"
            "DELIVERY 1  1111111  Make the title bold  [Healthy]\n"
            "  STAGE               TIME                  SINCE  DETAIL\n"
            "  committed           2026-11-30T09:59:00Z  -      1111111 Make the title bold "
            "(Jane Doe <jane@example.com>)\n"
            "  run started         2026-11-30T10:00:01Z  +1m1s  hello/hello-1111111\n"
            "  image pushed        2026-11-30T10:00:15Z  +14s   registry.example.invalid/demo/"
            "hello:1111111@" +
                kStoryDigest +
                "\n"
                "  promoted            2026-11-30T10:00:17Z  +2s    commit aaaa111 on main\n"
                "  run finished        2026-11-30T10:00:17Z  +0s    Succeeded\n"
                "  applied             2026-11-30T10:00:18Z  +1s    revision aaaa111\n"
                "  healthy             2026-11-30T10:00:21Z  +3s    -\n"
                "  breach              2026-11-30T10:00:30Z  +9s    error-ratio 0.07 > 0.05 "
                "(revision aaaa111)\n"
                "  rollback requested  -                     -      -\n"
                "  rolled back         -                     -      -\n"
                "  restored            -                     -      -\n");
}

TEST(TimelineTest, JsonCarriesTheSameStages) {
  auto all = AssembleReleaseTimeline(Story());
  json j = ReleaseTimelineJson(kNs, "web", all);
  EXPECT_EQ(j["release"]["name"], "web");
  ASSERT_EQ(j["deliveries"].size(), 3u);
  const json& bad = j["deliveries"][2];
  EXPECT_EQ(bad["shortRevision"], "3333333");
  EXPECT_EQ(bad["outcome"], "RolledBack, restored");
  EXPECT_EQ(bad["digest"], kStoryDigest);
  EXPECT_EQ(bad["stages"][5]["stage"], "applied");
  EXPECT_EQ(bad["stages"][5]["time"], StoryTime(218));
  EXPECT_DOUBLE_EQ(bad["stages"][5]["sincePrevious"].get<double>(), 1.0);
  const json& failed = j["deliveries"][1];
  EXPECT_TRUE(failed["promotionCommit"].is_null());
  EXPECT_TRUE(failed["stages"][3]["time"].is_null());
  EXPECT_TRUE(failed["stages"][3]["sincePrevious"].is_null());
}

TEST(TimelineTest, RunStagesFromStatusAndPod) {
  testing::DeliveryStory story = testing::MakeDeliveryStory(kNs);
  story.pod["spec"]["nodeName"] = "kwok-node-0";
  auto stages = AssembleRunTimeline(story.runs[0], &story.pod);
  std::vector<std::string> names;
  for (const auto& s : stages) names.push_back(s.name);
  EXPECT_EQ(names, (std::vector<std::string>{
                       "created", "pod created", "pod scheduled", "pod started", "clone started",
                       "clone finished", "test started", "test finished", "build-image started",
                       "build-image finished", "promote started", "promote finished", "finished"}));
  EXPECT_EQ(stages[1].at, T(1));  // the run's startTime: the pod has no creationTimestamp here
  EXPECT_EQ(stages[2].at, T(1));
  EXPECT_EQ(stages[2].detail, "on kwok-node-0");
  EXPECT_EQ(stages[3].at, T(2));
  EXPECT_EQ(stages[9].detail,
            "Succeeded: registry.example.invalid/demo/hello:1111111@" + kStoryDigest);
  EXPECT_EQ(stages[11].detail, "Succeeded (Pushed): commit aaaa111");
  EXPECT_EQ(stages[12].at, T(17));

  // Without its pod (pruned): what the run's status says, nothing more.
  const json& failed = story.runs[1];
  auto without = AssembleRunTimeline(failed, nullptr);
  EXPECT_EQ(without[1].at, T(101));
  EXPECT_FALSE(without[2].at.has_value());
  EXPECT_FALSE(without[3].at.has_value());
  EXPECT_EQ(without[7].detail, "Failed, exit code 1 (Error)");
  EXPECT_FALSE(without[8].at.has_value());  // build-image skipped
  EXPECT_EQ(without[9].detail, "Skipped");

  std::ostringstream out;
  PrintRunTimeline(out, failed, without);
  EXPECT_NE(out.str().find("PipelineRun team-a/hello-2222222  2222222  [Failed]"),
            std::string::npos)
      << out.str();
  json j = RunTimelineJson(failed, without);
  EXPECT_EQ(j["run"]["pipeline"], "hello");
  EXPECT_EQ(j["stages"].size(), without.size());
}

TEST(TimelineTest, ZipkinTraceOfEachDelivery) {
  auto all = AssembleReleaseTimeline(Story());
  json spans = ZipkinSpans(kNs, "web", all);
  // A root span per delivery plus one per known stage: 8 + 2 + 10.
  ASSERT_EQ(spans.size(), 3u + 8u + 2u + 10u) << spans.dump(2);
  const json& root = spans[0];
  EXPECT_EQ(root["name"], "delivery 1111111");
  EXPECT_EQ(root["traceId"].get<std::string>().size(), 32u);
  EXPECT_EQ(root["id"].get<std::string>().size(), 16u);
  EXPECT_FALSE(root.contains("parentId"));
  const int64_t t0 =
      std::chrono::duration_cast<std::chrono::microseconds>(T(-60).time_since_epoch()).count();
  EXPECT_EQ(root["timestamp"], t0);
  EXPECT_EQ(root["duration"], int64_t{90'000'000});  // committed (-60) to the breach Event (30)
  EXPECT_EQ(root["localEndpoint"]["serviceName"], "flywheel");
  EXPECT_EQ(root["tags"]["release"], "team-a/web");
  EXPECT_EQ(root["tags"]["outcome"], "Healthy");
  EXPECT_EQ(root["tags"]["digest"], kStoryDigest);
  EXPECT_EQ(root["tags"]["author"], "Jane Doe <jane@example.com>");
  const json& committed = spans[1];
  EXPECT_EQ(committed["name"], "committed");
  EXPECT_EQ(committed["parentId"], root["id"]);
  EXPECT_EQ(committed["traceId"], root["traceId"]);
  EXPECT_EQ(committed["duration"], int64_t{61'000'000});  // until the run started
  EXPECT_EQ(spans[4]["name"], "promoted");                // promoted and finished at 17:
  EXPECT_FALSE(spans[4].contains("duration"));            // no time between them
  EXPECT_EQ(spans[8]["name"], "breach");
  EXPECT_FALSE(spans[8].contains("duration"));  // the last known stage
  EXPECT_EQ(spans[8]["tags"]["detail"], "error-ratio 0.07 > 0.05 (revision aaaa111)");
  // Another delivery is another trace; the same input gives the same ids.
  EXPECT_EQ(spans[9]["name"], "delivery 2222222");
  EXPECT_NE(spans[9]["traceId"], root["traceId"]);
  EXPECT_FALSE(spans[9]["tags"].contains("subject"));  // unknown fields are no tags
  EXPECT_EQ(ZipkinSpans(kNs, "web", all), spans);
  // A delivery with no known time has no trace.
  Delivery unknown;
  unknown.stages = {{"committed", std::nullopt, "1234567"}};
  EXPECT_TRUE(ZipkinSpans(kNs, "web", {unknown}).empty());
}

TEST(TimelineTest, GapsAreShortAndSigned) {
  using std::chrono::milliseconds;
  EXPECT_EQ(FormatGap(milliseconds(0)), "+0s");
  EXPECT_EQ(FormatGap(milliseconds(1200)), "+1.2s");
  EXPECT_EQ(FormatGap(milliseconds(45'000)), "+45s");
  EXPECT_EQ(FormatGap(milliseconds(125'000)), "+2m5s");
  EXPECT_EQ(FormatGap(milliseconds(3'780'000)), "+1h3m");
  EXPECT_EQ(FormatGap(milliseconds(-1000)), "-1s");
  EXPECT_EQ(FormatTimelineTime(T(0)), "2026-11-30T10:00:00Z");
  EXPECT_EQ(FormatTimelineTime(T(0) + milliseconds(250)), "2026-11-30T10:00:00.250000Z");
}

TEST(TimelineTest, UsageMistakesExitTwo) {
  App app(DefaultCommands());
  std::ostringstream out, err;
  EXPECT_EQ(app.Run({"timeline"}, out, err), kExitUsage);
  EXPECT_NE(err.str().find("expected a Release name"), std::string::npos) << err.str();
  EXPECT_EQ(app.Run({"timeline", "web", "-o", "yaml"}, out, err), kExitUsage);
  EXPECT_NE(err.str().find("--output must be table or json"), std::string::npos) << err.str();
  EXPECT_EQ(app.Run({"timeline", "run", "a", "b"}, out, err), kExitUsage);
  for (const char* url : {"ftp://collector:21/spans", "http://", "http://user:pw@collector/x"}) {
    EXPECT_EQ(app.Run({"timeline", "web", "--zipkin-url", url}, out, err), kExitUsage) << url;
  }
  EXPECT_NE(err.str().find("--zipkin-url must be an http:// or https:// URL"), std::string::npos);
  EXPECT_EQ(app.Run({"timeline", "run", "r", "--zipkin-url", "http://collector:9411/api/v2/spans"},
                    out, err),
            kExitUsage);
  EXPECT_NE(err.str().find("exports a Release's deliveries, not a run"), std::string::npos);
  EXPECT_EQ(app.Run({"timeline", "--help"}, out, err), kExitOk);
  EXPECT_NE(out.str().find("flywheel timeline run <pipelinerun>"), std::string::npos);
}

}  // namespace
}  // namespace flywheel::cli
