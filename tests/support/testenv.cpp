#include "testenv.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>

#include "flywheel/kube/connect.h"

namespace flywheel::testing {

std::string SourcePath(const std::string& relative) {
  return std::string(FLYWHEEL_SOURCE_DIR) + "/" + relative;
}

const TestEnv* TestEnv::Get(std::string* why) {
  static const TestEnv* env = []() -> const TestEnv* {
    auto* e = new TestEnv();
    const char* dir = std::getenv("FLYWHEEL_TESTENV_DIR");
    e->dir_ = dir != nullptr ? dir : SourcePath(".testenv");
    e->kubeconfig_ = e->dir_ + "/kubeconfig";
    e->kubectl_ = e->dir_ + "/bin/kubectl";
    if (!std::filesystem::exists(e->kubeconfig_) || !std::filesystem::exists(e->kubectl_)) {
      delete e;
      return nullptr;
    }
    return e;
  }();
  if (env == nullptr && why != nullptr) {
    *why =
        "the local control plane is not running (no kubeconfig and kubectl under "
        "$FLYWHEEL_TESTENV_DIR or .testenv); start it with `make testenv-up`";
  }
  return env;
}

ProcessResult TestEnv::Kubectl(const std::vector<std::string>& args,
                               const std::string& input) const {
  std::vector<std::string> argv = {kubectl_, "--kubeconfig", kubeconfig_};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunProcess(argv, input);
}

nlohmann::json ConfigMapObject(const std::string& ns, const std::string& name,
                               const std::string& key, const std::string& value) {
  return {{"apiVersion", "v1"},
          {"kind", "ConfigMap"},
          {"metadata", {{"name", name}, {"namespace", ns}}},
          {"data", {{key, value}}}};
}

std::map<std::string, std::string> Versions(const nlohmann::json& list) {
  std::map<std::string, std::string> out;
  for (const auto& item : list["items"]) {
    out[item["metadata"]["name"]] = item["metadata"]["resourceVersion"];
  }
  return out;
}

std::map<std::string, std::string> Versions(const std::vector<kube::ObjectPtr>& objects) {
  std::map<std::string, std::string> out;
  for (const auto& obj : objects) {
    out[(*obj)["metadata"]["name"]] = (*obj)["metadata"]["resourceVersion"];
  }
  return out;
}

void TestEnv::WriteKubeconfig(const std::string& path, const std::string& user_yaml) const {
  auto cluster = Kubectl({"config", "view", "--raw", "--minify", "-o",
                          "jsonpath={.clusters[0].cluster.server} "
                          "{.clusters[0].cluster.certificate-authority}"});
  if (cluster.exit_code != 0) throw std::runtime_error("kubectl config view: " + cluster.err);
  auto space = cluster.out.find(' ');
  std::ofstream(path) << "apiVersion: v1\nkind: Config\n"
                      << "clusters: [{name: c, cluster: {server: " << cluster.out.substr(0, space)
                      << ", certificate-authority: " << cluster.out.substr(space + 1) << "}}]\n"
                      << "users: [{name: u, user: " << user_yaml << "}]\n"
                      << "contexts: [{name: x, context: {cluster: c, user: u}}]\n"
                      << "current-context: x\n";
}

kube::Client TestEnv::Client() const {
  kube::LoadOptions lo;
  lo.kubeconfig = kubeconfig_;
  auto config = kube::LoadKubeconfig(lo);
  if (!config.ok()) throw std::runtime_error(config.status().ToString());
  auto client = kube::Connect(*config);
  if (!client.ok()) throw std::runtime_error(client.status().ToString());
  return std::move(*client);
}

ScopedNamespace::ScopedNamespace(const TestEnv& env, const std::string& prefix)
    : client_(env.Client()) {
  std::random_device rd;
  name_ = prefix + "-" + std::to_string(getpid()) + "-" + std::to_string(rd() % 100000);
  // Through the API, not kubectl: a kubectl process costs about 0.2 s of CPU to start, and every
  // integration test makes a namespace or two (process accounting of a whole `make test` on
  // 2026-12-02: 811 kubectl processes, 179 s of CPU, the largest share of the tests' own).
  auto created = client_.Create(
      {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", name_}}}});
  if (!created.ok()) {
    ADD_FAILURE() << "create namespace " << name_ << ": " << created.status().ToString();
  }
}

ScopedNamespace::~ScopedNamespace() {
  // Not waited for; a namespace already gone (or an API server a disruptive test stopped) is
  // no failure of the test.
  (void)client_.Delete("v1", "Namespace", "", name_);
}

}  // namespace flywheel::testing
