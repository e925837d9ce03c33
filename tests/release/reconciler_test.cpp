#include "flywheel/release/reconciler.h"

#include <gtest/gtest.h>

namespace flywheel::release {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

TEST(ReleaseSpecTest, AMinimalReleaseGetsTheDefaultsOfTheSpec) {
  auto spec = ReleaseSpec::Parse(json::parse(R"({"metadata":{"name":"web","namespace":"team-a"},
      "spec":{"source":{"url":"https://git.example.com/deploy.git"}}})"));
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_EQ(spec->branch, "main");
  EXPECT_EQ(spec->path, ".");
  EXPECT_EQ(spec->poll_interval, milliseconds(60000));
  EXPECT_EQ(spec->health_timeout, milliseconds(300000));
  EXPECT_EQ(spec->history_limit, 10);
  EXPECT_TRUE(spec->prune);
  EXPECT_TRUE(spec->self_heal);
  EXPECT_FALSE(spec->suspend);
  EXPECT_EQ(spec->target_namespace, "team-a") << "objects land in the Release's namespace";
}

TEST(ReleaseSpecTest, ReadsEveryField) {
  auto spec = ReleaseSpec::Parse(json::parse(R"({"metadata":{"name":"web","namespace":"a"},
      "spec":{"source":{"url":"ssh://git@h/r.git","branch":"prod","path":"apps/web",
      "secretRef":{"name":"creds"},"pollInterval":"30s"},"revision":"v1.2","targetNamespace":"b",
      "prune":false,"selfHeal":false,"healthTimeout":"1m30s","historyLimit":3,
      "serviceAccountName":"deployer","suspend":true}})"));
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_EQ(spec->branch, "prod");
  EXPECT_EQ(spec->path, "apps/web");
  EXPECT_EQ(spec->secret_name, "creds");
  EXPECT_EQ(spec->poll_interval, milliseconds(30000));
  EXPECT_EQ(spec->revision, "v1.2");
  EXPECT_EQ(spec->target_namespace, "b");
  EXPECT_FALSE(spec->prune);
  EXPECT_FALSE(spec->self_heal);
  EXPECT_EQ(spec->health_timeout, milliseconds(90000));
  EXPECT_EQ(spec->history_limit, 3);
  EXPECT_EQ(spec->service_account, "deployer");
  EXPECT_TRUE(spec->suspend);
}

TEST(ReleaseSpecTest, PollIntervalZeroDisablesPollingAndOthersAreAtLeastASecond) {
  auto spec = ReleaseSpec::Parse(
      json::parse(R"({"spec":{"source":{"url":"file:///r","pollInterval":"0s"}}})"));
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_EQ(spec->poll_interval, milliseconds(0));
  spec = ReleaseSpec::Parse(
      json::parse(R"({"spec":{"source":{"url":"file:///r","pollInterval":"0"}}})"));
  ASSERT_TRUE(spec.ok());
  EXPECT_EQ(spec->poll_interval, milliseconds(0));
  spec = ReleaseSpec::Parse(
      json::parse(R"({"spec":{"source":{"url":"file:///r","pollInterval":"10ms"}}})"));
  ASSERT_TRUE(spec.ok());
  EXPECT_EQ(spec->poll_interval, milliseconds(1000));
}

TEST(ReleaseSpecTest, BadDurationsNameTheField) {
  auto spec = ReleaseSpec::Parse(
      json::parse(R"({"spec":{"source":{"url":"file:///r","pollInterval":"soon"}}})"));
  ASSERT_FALSE(spec.ok());
  EXPECT_EQ(spec.status().code(), Code::kInvalidArgument);
  EXPECT_NE(spec.status().message().find("spec.source.pollInterval"), std::string::npos)
      << spec.status().message();
  spec = ReleaseSpec::Parse(
      json::parse(R"({"spec":{"source":{"url":"file:///r"},"healthTimeout":"5 minutes"}})"));
  ASSERT_FALSE(spec.ok());
  EXPECT_NE(spec.status().message().find("spec.healthTimeout"), std::string::npos)
      << spec.status().message();
}

TEST(RollbackRequestTest, RoundTripsThroughTheAnnotation) {
  RollbackRequest r{.id = "42",
                    .to = "abc1234",
                    .git_revert = false,
                    .reason = "errors",
                    .by = "RollbackPolicy web"};
  auto back = RollbackRequest::Parse(r.ToAnnotation());
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->id, "42");
  EXPECT_EQ(back->to, "abc1234");
  EXPECT_FALSE(back->git_revert);
  EXPECT_EQ(back->reason, "errors");
  EXPECT_EQ(back->by, "RollbackPolicy web");
}

TEST(RollbackRequestTest, RejectsWhatIsNotARequest) {
  EXPECT_EQ(RollbackRequest::Parse("now please").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(RollbackRequest::Parse("[]").status().code(), Code::kInvalidArgument);
  auto no_id = RollbackRequest::Parse(R"({"to":"abc"})");
  ASSERT_FALSE(no_id.ok());
  EXPECT_NE(no_id.status().message().find("\"id\""), std::string::npos);
  auto defaults = RollbackRequest::Parse(R"({"id":"1"})");
  ASSERT_TRUE(defaults.ok());
  EXPECT_TRUE(defaults->git_revert) << "reverting in Git is the default";
}

}  // namespace
}  // namespace flywheel::release
