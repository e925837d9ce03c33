// The artifact builders other than buildah, for real on the testenv's node (`make
// test-builders`): a build pod whose clone and steps run as in tests/realnode/, and whose
// `build-image` container is kaniko's executor or rootless buildkitd, from images built here
// from the Go module proxy (hack/images/builders/). Each builds the Dockerfile (a base image
// pulled from the testenv's plain-HTTP registry, a COPY and a RUN), pushes the tag, and reports
// the digest the registry serves; the pushed image then runs. The pod is BuildPod's, with each
// builder's security context as documented in docs/pipeline.md, "Security".
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "support/pipeline_real.h"

namespace flywheel::testing {
namespace {

using nlohmann::json;

class BuilderRealNodeTest : public RealPipelineTest,
                            public ::testing::WithParamInterface<const char*> {};

TEST_P(BuilderRealNodeTest, BuildsPushesAndReportsTheServedDigest) {
  FLYWHEEL_REQUIRE_REAL_NODE(env, node);
  const std::string builder = GetParam();
  ScopedNamespace ns(*env, "builder-" + builder);
  const std::string repository = "builders/" + builder;
  const std::string image = node->pod_registry() + "/" + repository;
  const std::string sha = app_->Commit(BuildableApp(PodBusybox(*node), "a + b"), "the app");
  const std::string sha7 = sha.substr(0, 7);
  Start(*env, *node, ns.name(), builder);
  ASSERT_FALSE(HasFatalFailure());
  auto r = env->Kubectl(
      {"apply", "-n", ns.name(), "-f", "-"},
      RealPipelineYaml(*node, "app", daemon_->Url("app"), image, /*promote_url=*/"", builder));
  ASSERT_EQ(r.exit_code, 0) << r.err;

  json run = WaitFinished(*env, *node, ns.name(), "app-" + sha7);
  ASSERT_EQ(RunStatus(run).value("phase", ""), "Succeeded")
      << RunStatus(run).dump(2) << env->Kubectl({"describe", "-n", ns.name(), "pod"}).out;
  json step = RunStep(run, "build-image");
  EXPECT_EQ(step.value("phase", ""), "Succeeded") << step.dump();
  EXPECT_EQ(step.value("exitCode", -1), 0) << step.dump();
  const auto started = StepTime(step, "startedAt");
  EXPECT_GT(started.time_since_epoch().count(), 0) << step.dump();
  EXPECT_LE(StepTime(RunStep(run, "test"), "finishedAt"), started) << RunStatus(run).dump(2);

  // The digest in the status is the one the registry serves for the tag.
  EXPECT_EQ(RunStatus(run)["artifact"].value("image", ""), image + ":" + sha7);
  std::string status;
  const std::string served = RegistryDigest(node->registry(), repository, sha7, &status);
  ASSERT_EQ(served.rfind("sha256:", 0), 0u) << status;
  EXPECT_EQ(RunStatus(run)["artifact"].value("digest", ""), served) << RunStatus(run).dump(2);

  // The pushed image runs: the binary built by the steps, on busybox.
  ExpectImageRuns(*env, *node, ns.name(), node->registry() + "/" + repository + ":" + sha7);
}

INSTANTIATE_TEST_SUITE_P(Builders, BuilderRealNodeTest, ::testing::Values("kaniko", "buildkit"),
                         [](const ::testing::TestParamInfo<const char*>& param) {
                           return std::string(param.param);
                         });

}  // namespace
}  // namespace flywheel::testing
