#pragma once

#include <map>
#include <string>
#include <vector>

#include "flywheel/kube/client.h"
#include "flywheel/kube/informer.h"
#include "process.h"

namespace flywheel::testing {

// The local control plane started by `make testenv-up` (hack/testenv/up.sh): where its
// kubeconfig and the matching kubectl are. The directory is $FLYWHEEL_TESTENV_DIR, or `.testenv`
// in the source tree.
class TestEnv {
 public:
  // Returns the environment, or nullptr with `why` set when it is not running.
  static const TestEnv* Get(std::string* why);

  const std::string& dir() const { return dir_; }
  const std::string& kubeconfig() const { return kubeconfig_; }

  // A kube::Client with the testenv's cluster-admin kubeconfig (fails the test if it cannot).
  kube::Client Client() const;

  // Writes a kubeconfig for this cluster (same server and CA) whose user is `user_yaml`, a YAML
  // flow map such as "{token: abc}" or "{tokenFile: token}" (relative to `path`'s folder).
  void WriteKubeconfig(const std::string& path, const std::string& user_yaml) const;

  // Runs `kubectl --kubeconfig <testenv> args...` with optional stdin.
  ProcessResult Kubectl(const std::vector<std::string>& args, const std::string& input = "") const;

 private:
  std::string dir_;
  std::string kubeconfig_;
  std::string kubectl_;
};

// Skips the current test with the reason when the testenv is not up (a skip fails the test unless
// FLYWHEEL_ALLOW_SKIP=1: support/main.cpp); otherwise yields it.
#define FLYWHEEL_REQUIRE_TESTENV(env)                            \
  std::string flywheel_testenv_why_;                             \
  const ::flywheel::testing::TestEnv* env =                      \
      ::flywheel::testing::TestEnv::Get(&flywheel_testenv_why_); \
  if (env == nullptr) GTEST_SKIP() << flywheel_testenv_why_

// A namespace made for one test and deleted (without waiting) when the test ends.
class ScopedNamespace {
 public:
  ScopedNamespace(const TestEnv& env, const std::string& prefix);
  ~ScopedNamespace();
  ScopedNamespace(const ScopedNamespace&) = delete;
  ScopedNamespace& operator=(const ScopedNamespace&) = delete;

  const std::string& name() const { return name_; }

 private:
  kube::Client client_;  // made once: it loads the kubeconfig and the TLS context
  std::string name_;
};

// A ConfigMap object `ns/name` whose data is {key: value}.
nlohmann::json ConfigMapObject(const std::string& ns, const std::string& name,
                               const std::string& key, const std::string& value);

// name -> resourceVersion of every object in a List's items or in a cache, to compare what an
// informer holds with what the server has.
std::map<std::string, std::string> Versions(const nlohmann::json& list);
std::map<std::string, std::string> Versions(const std::vector<kube::ObjectPtr>& objects);

// The source tree, for test data such as crds/ and examples/.
std::string SourcePath(const std::string& relative);

}  // namespace flywheel::testing
