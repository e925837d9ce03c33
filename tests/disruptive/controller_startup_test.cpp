// `flywheel controller` refuses to start, at once and saying why, when what it needs is not
// there: a readable kubeconfig, credentials the API server accepts, sane flags, and the
// flywheel.dev CRDs. Disruptive: it removes the CRDs from the control plane (and puts them back),
// which would break Release tests running beside it.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "support/process.h"
#include "support/testenv.h"

namespace flywheel::testing {
namespace {

// How a `flywheel controller` run ended.
struct Outcome {
  int code = -1;    // the exit code; -1: still running after 30 s (then killed)
  std::string log;  // everything it wrote
};

// Runs `flywheel controller args...` and waits at most 30 s for it to exit: a controller that
// hangs instead of failing is a failure too.
Outcome RunController(const std::vector<std::string>& args) {
  std::string log = std::filesystem::temp_directory_path() /
                    ("flywheel-startup-" + std::to_string(getpid()) + ".log");
  std::vector<std::string> argv = {FLYWHEEL_BINARY,
                                   "controller",
                                   "--metrics-bind-address",
                                   "0",
                                   "--health-probe-bind-address",
                                   "0",
                                   "--webhook-bind-address",
                                   "0"};
  argv.insert(argv.end(), args.begin(), args.end());
  Outcome result;
  {
    BackgroundProcess controller(argv, log);
    result.code = controller.Wait(30000);
    result.log = controller.Log();
  }
  std::filesystem::remove(log);
  return result;
}

// Deletes the flywheel.dev CRDs for the life of the object and installs them again after.
class WithoutCrds {
 public:
  explicit WithoutCrds(const TestEnv& env) : env_(env) {
    auto r = env_.Kubectl(
        {"delete", "--ignore-not-found", "--wait", "--timeout=120s", "-f", SourcePath("crds")});
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  }
  ~WithoutCrds() {
    auto r = env_.Kubectl({"apply", "--server-side", "-f", SourcePath("crds")});
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    r = env_.Kubectl(
        {"wait", "--for=condition=Established", "--timeout=60s", "-f", SourcePath("crds")});
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  }
  WithoutCrds(const WithoutCrds&) = delete;
  WithoutCrds& operator=(const WithoutCrds&) = delete;

 private:
  const TestEnv& env_;
};

TEST(ControllerProcessTest, MissingCrdsOrBadKubeconfigFailClearly) {
  FLYWHEEL_REQUIRE_TESTENV(env);

  Outcome r = RunController({"--kubeconfig", "/nonexistent/kubeconfig"});
  EXPECT_EQ(r.code, 1) << r.log;
  EXPECT_NE(r.log.find("/nonexistent/kubeconfig"), std::string::npos) << r.log;

  // A kubeconfig for the right server with a token it does not accept.
  std::string bad_token = std::filesystem::temp_directory_path() /
                          ("flywheel-bad-token-" + std::to_string(getpid()) + ".kubeconfig");
  env->WriteKubeconfig(bad_token, "{token: not-a-valid-token}");
  r = RunController({"--kubeconfig", bad_token});
  std::filesystem::remove(bad_token);
  EXPECT_EQ(r.code, 1) << r.log;
  EXPECT_NE(r.log.find("cannot reach the API server"), std::string::npos) << r.log;
  EXPECT_NE(r.log.find("Unauthenticated"), std::string::npos) << r.log;
  EXPECT_EQ(r.log.find("not-a-valid-token"), std::string::npos) << "the token was printed";

  r = RunController({"--kubeconfig", env->kubeconfig(), "--concurrent", "x"});
  EXPECT_EQ(r.code, 2) << r.log;
  EXPECT_NE(r.log.find("--concurrent must be an integer"), std::string::npos) << r.log;

  {
    WithoutCrds without(*env);
    r = RunController({"--kubeconfig", env->kubeconfig()});
  }
  EXPECT_EQ(r.code, 1) << r.log;
  EXPECT_NE(r.log.find("API server"), std::string::npos) << "it reached the server: " << r.log;
  EXPECT_NE(r.log.find("the server does not serve flywheel.dev/v1alpha1"), std::string::npos)
      << r.log;
  EXPECT_NE(r.log.find("install them with `kubectl apply -f crds/`"), std::string::npos) << r.log;
}

}  // namespace
}  // namespace flywheel::testing
