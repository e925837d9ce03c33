// EventRecorder against the testenv: events.k8s.io/v1 Events, aggregated into series.
#include "flywheel/kube/events.h"

#include <gtest/gtest.h>

#include "flywheel/kube/connect.h"
#include "support/testenv.h"

namespace flywheel::kube {
namespace {

using ::flywheel::testing::ScopedNamespace;

TEST(EventRecorderTest, RepeatsBecomeASeriesAndDistinctEventsStaySeparate) {
  FLYWHEEL_REQUIRE_TESTENV(env);
  ScopedNamespace ns(*env, "events");
  Client client = env->Client();
  auto cm = client.Create({{"apiVersion", "v1"},
                           {"kind", "ConfigMap"},
                           {"metadata", {{"name", "subject"}, {"namespace", ns.name()}}}});
  ASSERT_TRUE(cm.ok()) << cm.status().ToString();

  EventRecorder recorder(client, "flywheel.dev/test", "test-instance");
  for (int i = 0; i < 3; ++i) recorder.Emit(*cm, "Warning", "SyncFailed", "Sync", "boom");
  recorder.Emit(*cm, "Normal", "Synced", "Sync", "applied 3 objects");

  auto events = client.List("events.k8s.io/v1", "Event", ns.name());
  ASSERT_TRUE(events.ok()) << events.status().ToString();
  ASSERT_EQ((*events)["items"].size(), 2u) << events->dump(2);
  for (const auto& e : (*events)["items"]) {
    EXPECT_EQ(e["regarding"]["name"], "subject");
    EXPECT_EQ(e["regarding"]["uid"], (*cm)["metadata"]["uid"]);
    EXPECT_EQ(e["reportingController"], "flywheel.dev/test");
    if (e["reason"] == "SyncFailed") {
      EXPECT_EQ(e["type"], "Warning");
      EXPECT_EQ(e["note"], "boom");
      EXPECT_EQ(e["series"]["count"], 3);
    } else {
      EXPECT_EQ(e["reason"], "Synced");
      EXPECT_FALSE(e.contains("series"));
    }
  }
  // kubectl shows them, as a user would look.
  auto shown = env->Kubectl({"events", "-n", ns.name()});
  EXPECT_NE(shown.out.find("SyncFailed"), std::string::npos) << shown.out << shown.err;
}

}  // namespace
}  // namespace flywheel::kube
