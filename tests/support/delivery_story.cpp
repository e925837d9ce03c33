#include "delivery_story.h"

#include "flywheel/common/time.h"

namespace flywheel::testing {

using nlohmann::json;

namespace {

constexpr const char* kGroup = "flywheel.dev/v1alpha1";

// The steps of a run of "hello" (clone, test, build-image, promote) from `t`, as ObservePod and
// Promote write them; a failed test skips the rest.
json Steps(int t, bool test_ok) {
  json s = {{{"name", "clone"},
             {"phase", "Succeeded"},
             {"startedAt", StoryTime(t + 2)},
             {"finishedAt", StoryTime(t + 3)}},
            {{"name", "test"},
             {"phase", test_ok ? "Succeeded" : "Failed"},
             {"startedAt", StoryTime(t + 3)},
             {"finishedAt", StoryTime(t + 8)}},
            {{"name", "build-image"}, {"phase", test_ok ? "Succeeded" : "Skipped"}},
            {{"name", "promote"}, {"phase", test_ok ? "Succeeded" : "Skipped"}}};
  if (!test_ok) {
    s[1]["exitCode"] = 1;
    s[1]["reason"] = "Error";
    return s;
  }
  s[2]["startedAt"] = StoryTime(t + 8);
  s[2]["finishedAt"] = StoryTime(t + 15);
  s[3]["startedAt"] = StoryTime(t + 16);
  s[3]["finishedAt"] = StoryTime(t + 17);
  s[3]["reason"] = "Pushed";
  return s;
}

json Succeeded(bool ok, int at) {
  return {{"type", "Succeeded"},
          {"status", ok ? "True" : "False"},
          {"reason", ok ? "Succeeded" : "StepFailed"},
          {"message", ok ? "all steps succeeded" : "step \"test\" failed with exit code 1 (Error)"},
          {"observedGeneration", 1},
          {"lastTransitionTime", StoryTime(at)}};
}

json Run(const std::string& ns, const std::string& revision, int t, json status) {
  const std::string name = "hello-" + revision.substr(0, 7);
  status["shortRevision"] = revision.substr(0, 7);
  status["podName"] = name;
  status["startTime"] = StoryTime(t + 1);
  status["observedGeneration"] = 1;
  return {{"apiVersion", kGroup},
          {"kind", "PipelineRun"},
          {"metadata",
           {{"name", name},
            {"namespace", ns},
            {"uid", "uid-" + name},
            {"creationTimestamp", StoryTime(t)},
            {"labels", {{"flywheel.dev/pipeline", "hello"}}}}},
          {"spec", {{"pipelineRef", {{"name", "hello"}}}, {"revision", revision}}},
          {"status", std::move(status)}};
}

json Promoted(const std::string& ns, const std::string& revision, int t,
              const std::string& commit) {
  return Run(ns, revision, t,
             {{"phase", "Succeeded"},
              {"completionTime", StoryTime(t + 17)},
              {"steps", Steps(t, true)},
              {"conditions", {Succeeded(true, t + 17)}},
              {"artifact",
               {{"image", "registry.example.invalid/demo/hello:" + revision.substr(0, 7)},
                {"digest", kStoryDigest}}},
              {"promotion",
               {{"url", "https://git.example.invalid/acme/deploy.git"},
                {"branch", "main"},
                {"commit", commit},
                {"pushedAt", StoryTime(t + 17)}}}});
}

json ContainerTerminated(const std::string& name, const std::string& image,
                         const std::string& message, int start, int end) {
  return {{"name", name},
          {"ready", false},
          {"restartCount", 0},
          {"image", image},
          {"imageID", ""},
          {"state",
           {{"terminated",
             {{"exitCode", 0},
              {"reason", "Completed"},
              {"message", message},
              {"startedAt", StoryTime(start)},
              {"finishedAt", StoryTime(end)}}}}}};
}

}  // namespace

std::string StoryTime(int seconds) {
  return FormatRfc3339(*ParseRfc3339("2026-11-30T10:00:00Z") + std::chrono::seconds(seconds));
}

DeliveryStory MakeDeliveryStory(const std::string& ns) {
  DeliveryStory story;
  story.pipeline = {
      {"apiVersion", kGroup},
      {"kind", "Pipeline"},
      {"metadata", {{"name", "hello"}, {"namespace", ns}}},
      {"spec",
       {{"source", {{"url", "https://git.example.invalid/acme/hello.git"}, {"branch", "main"}}},
        {"steps", {{{"name", "test"}, {"image", "busybox"}, {"script", "make test"}}}},
        {"artifact", {{"image", "registry.example.invalid/demo/hello"}}},
        {"promote",
         {{"url", "https://git.example.invalid/acme/deploy.git"},
          {"branch", "main"},
          {"paths", {"apps/web"}}}}}}};

  json failing = Run(ns, kStoryFailing, 100,
                     {{"phase", "Failed"},
                      {"completionTime", StoryTime(108)},
                      {"steps", Steps(100, false)},
                      {"conditions", {Succeeded(false, 108)}}});
  story.runs = {Promoted(ns, kStoryGood, 0, kStoryM1), failing,
                Promoted(ns, kStoryBad, 200, kStoryM3)};

  // The good run's build pod: the clone's termination message names the commit.
  const json commit = {{"revision", kStoryGood},
                       {"author", "Jane Doe <jane@example.com>"},
                       {"committedAt", StoryTime(-60)},
                       {"subject", "Make the title bold"}};
  story.pod = {
      {"apiVersion", "v1"},
      {"kind", "Pod"},
      {"metadata",
       {{"name", "hello-1111111"},
        {"namespace", ns},
        {"labels", {{"flywheel.dev/pipeline-run", "hello-1111111"}}},
        {"ownerReferences",
         {{{"apiVersion", kGroup},
           {"kind", "PipelineRun"},
           {"name", "hello-1111111"},
           {"uid", "uid-hello-1111111"},
           {"controller", true}}}}}},
      {"spec",
       {{"restartPolicy", "Never"},
        {"initContainers", {{{"name", "clone"}, {"image", "flywheel"}}}},
        {"containers", {{{"name", "test"}, {"image", "busybox"}}}}}},
      {"status",
       {{"phase", "Succeeded"},
        {"startTime", StoryTime(2)},
        {"conditions",
         {{{"type", "PodScheduled"}, {"status", "True"}, {"lastTransitionTime", StoryTime(1)}}}},
        {"initContainerStatuses",
         {ContainerTerminated("clone", "flywheel", commit.dump(), 2, 3)}}}}};

  const json m3 = {{"revision", kStoryM3},
                   {"message", "Promote registry.example.invalid/demo/hello:3333333"},
                   {"author", "flywheel <flywheel@example.invalid>"},
                   {"committedAt", StoryTime(217)},
                   {"appliedAt", StoryTime(218)},
                   {"healthyAt", StoryTime(220)},
                   {"result", "RolledBack"},
                   {"reason", "rolled back to aaaa111: error-ratio 0.2 > 0.05 for 10s"}};
  const json m1 = {{"revision", kStoryM1},
                   {"message", "Promote registry.example.invalid/demo/hello:1111111"},
                   {"author", "flywheel <flywheel@example.invalid>"},
                   {"committedAt", StoryTime(17)},
                   {"appliedAt", StoryTime(18)},
                   {"healthyAt", StoryTime(21)},
                   {"result", "Healthy"}};
  story.release = {{"apiVersion", kGroup},
                   {"kind", "Release"},
                   {"metadata", {{"name", "web"}, {"namespace", ns}}},
                   {"spec",
                    {{"source",
                      {{"url", "https://git.example.invalid/acme/deploy"},
                       {"branch", "main"},
                       {"path", "apps/web"}}}}},
                   {"status",
                    {{"lastAppliedRevision", kStoryRevert},
                     {"stableRevision", kStoryM1},
                     {"health", "Healthy"},
                     {"history", {m3, m1}},
                     {"rejectedRevisions",
                      {{{"revision", kStoryM3},
                        {"rejectedAt", StoryTime(240)},
                        {"reason", "error-ratio 0.2 > 0.05 for 10s (by RollbackPolicy/errors)"}}}},
                     {"lastRollback",
                      {{"id", "rbp-0123"},
                       {"at", StoryTime(240)},
                       {"fromRevision", kStoryM3},
                       {"toRevision", kStoryM1},
                       {"reason", "error-ratio 0.2 > 0.05 for 10s"},
                       {"by", "RollbackPolicy/errors"},
                       {"trigger", "metric"},
                       {"revertCommit", kStoryRevert},
                       {"restoredAt", StoryTime(243)}}}}}};

  story.policy = {{"apiVersion", kGroup},
                  {"kind", "RollbackPolicy"},
                  {"metadata", {{"name", "errors"}, {"namespace", ns}}},
                  {"spec",
                   {{"releaseRef", {{"name", "web"}}},
                    {"prometheus", {{"url", "http://127.0.0.1:9090"}}},
                    {"metrics",
                     {{{"name", "error-ratio"},
                       {"query", "sum(rate(http_requests_total{code=~\"5..\"}[30s]))"},
                       {"threshold", {{"operator", ">"}, {"value", 0.05}}},
                       {"for", "10s"}}}}}},
                  {"status",
                   {{"phase", "RolledBack"},
                    {"watchedRevision", kStoryM3},
                    {"watchStartedAt", StoryTime(218)},
                    {"metrics",
                     {{{"name", "error-ratio"},
                       {"value", "0.2"},
                       {"state", "Breaching"},
                       {"evaluatedAt", StoryTime(238)},
                       {"breachingSince", StoryTime(228)},
                       {"consecutiveErrors", 0}}}},
                    {"lastRollback",
                     {{"id", "rbp-0123"},
                      {"at", StoryTime(239)},
                      {"fromRevision", kStoryM3},
                      {"toRevision", kStoryM1},
                      {"trigger", "error-ratio"},
                      {"reason", "error-ratio 0.2 > 0.05 for 10s"},
                      {"value", "0.2"}}}}}};

  // A breach of the good revision that ended by itself (it never fired): only its Event tells.
  story.events = {{{"apiVersion", "events.k8s.io/v1"},
                   {"kind", "Event"},
                   {"metadata", {{"name", "errors.t30"}, {"namespace", ns}}},
                   {"eventTime", FormatRfc3339Micro(*ParseRfc3339(StoryTime(30)))},
                   {"reportingController", "flywheel"},
                   {"reportingInstance", "flywheel-test"},
                   {"action", "Evaluate"},
                   {"reason", "Breaching"},
                   {"type", "Normal"},
                   {"note", "error-ratio 0.07 > 0.05 (revision aaaa111)"},
                   {"regarding",
                    {{"apiVersion", kGroup},
                     {"kind", "RollbackPolicy"},
                     {"name", "errors"},
                     {"namespace", ns}}}}};
  return story;
}

}  // namespace flywheel::testing
