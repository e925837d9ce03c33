#include "crds.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "flywheel/common/sha256.h"
#include "flywheel/kube/client.h"
#include "flywheel/kube/conditions.h"

namespace flywheel::testing {

namespace {

constexpr const char* kHashAnnotation = "flywheel.dev/test-crds-sha256";

struct CrdFiles {
  std::vector<std::string> paths;
  std::vector<std::string> names;  // metadata.name of each
  std::string hash;                // of every file's name and content
};

CrdFiles ReadCrdFiles() {
  CrdFiles files;
  for (const auto& entry : std::filesystem::directory_iterator(SourcePath("crds"))) {
    if (entry.path().extension() == ".yaml") files.paths.push_back(entry.path().string());
  }
  std::sort(files.paths.begin(), files.paths.end());
  std::string all;
  for (const auto& path : files.paths) {
    std::ifstream in(path);
    std::stringstream content;
    content << in.rdbuf();
    all += path.substr(path.rfind('/') + 1) + "\n" + content.str() + "\n";
    files.names.push_back(YAML::Load(content.str())["metadata"]["name"].as<std::string>());
  }
  files.hash = Sha256Hex(all);
  return files;
}

// Whether every CRD is served, Established and marked with `files.hash`.
bool Installed(const TestEnv& env, const CrdFiles& files) {
  kube::Client client = env.Client();
  for (const auto& name : files.names) {
    auto live = client.Get("apiextensions.k8s.io/v1", "CustomResourceDefinition", "", name);
    if (!live.ok() || kube::MetaAnnotation(*live, kHashAnnotation) != files.hash) return false;
    const auto status = live->value("status", nlohmann::json::object());
    if (!kube::IsTrue(status.value("conditions", nlohmann::json::array()), "Established")) {
      return false;
    }
  }
  return true;
}

}  // namespace

void InstallCrds(const TestEnv& env) {
  const CrdFiles files = ReadCrdFiles();
  ASSERT_FALSE(files.names.empty()) << "no CRDs under " << SourcePath("crds");
  if (Installed(env, files)) return;
  auto r = env.Kubectl(
      {"apply", "--server-side", "--field-manager=flywheel-tests", "-f", SourcePath("crds")});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  std::vector<std::string> wait = {"wait", "--for=condition=Established", "--timeout=60s"};
  std::vector<std::string> annotate = {"annotate", "--overwrite"};
  for (const auto& name : files.names) {
    wait.push_back("crd/" + name);
    annotate.push_back("crd/" + name);
  }
  r = env.Kubectl(wait);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  annotate.push_back(std::string(kHashAnnotation) + "=" + files.hash);
  r = env.Kubectl(annotate);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
}

}  // namespace flywheel::testing
