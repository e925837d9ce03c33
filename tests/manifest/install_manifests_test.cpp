// The install manifests (manifests/, loaded the way a Release loads a repository) and the docs
// that tell an operator how to use them say the same thing.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <regex>
#include <string>
#include <vector>

#include "flywheel/manifest/loader.h"
#include "support/testenv.h"

namespace flywheel::manifest {
namespace {

using ::flywheel::testing::SourcePath;

std::string ReadSource(const std::string& relative) {
  std::ifstream in(SourcePath(relative), std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// The object of `kind` named `name` in manifests/ (null when absent).
json InstallObject(const std::string& kind, const std::string& name) {
  std::vector<git::TreeFile> files;
  // The whole tree, as a Release reads a repository path (manifests/monitoring/ too, which the
  // kustomization does not list).
  const std::filesystem::path root = SourcePath("manifests");
  for (const auto& entry : std::filesystem::recursive_directory_iterator(root)) {
    if (!entry.is_regular_file()) continue;
    std::string path = "manifests/" + entry.path().lexically_relative(root).string();
    files.push_back({path, ReadSource(path)});
  }
  auto loaded = Load(files, "manifests");
  EXPECT_TRUE(loaded.ok()) << loaded.status().ToString();
  if (!loaded.ok()) return nullptr;
  for (const Manifest& m : *loaded) {
    if (m.object["kind"] == kind && m.object["metadata"]["name"] == name) return m.object;
  }
  return nullptr;
}

// The first group of `pattern` in `text` ("" when it does not match).
std::string Find(const std::string& text, const std::string& pattern) {
  std::smatch match;
  return std::regex_search(text, match, std::regex(pattern)) ? match[1].str() : "";
}

// docs/webhooks.md's commands create the Secret the Deployment mounts, under the key and at the
// path the controller is told to read.
TEST(InstallManifestsTest, WebhookSecretNameAndPathAgreeWithTheDocs) {
  json deployment = InstallObject("Deployment", "flywheel");
  ASSERT_TRUE(deployment.is_object()) << "no Deployment flywheel in manifests/";
  const json& pod = deployment["spec"]["template"]["spec"];
  const json& container = pod["containers"][0];
  std::string file;  // the value of --git-webhook-secret-file
  for (const auto& arg : container["args"]) {
    std::string a = arg;
    if (a.rfind("--git-webhook-secret-file=", 0) == 0) file = a.substr(a.find('=') + 1);
  }
  ASSERT_FALSE(file.empty()) << container.dump(2);
  std::string dir = std::filesystem::path(file).parent_path().string();
  std::string key = std::filesystem::path(file).filename().string();
  std::string volume;
  for (const auto& mount : container["volumeMounts"]) {
    if (mount["mountPath"] == dir) volume = mount["name"];
  }
  ASSERT_FALSE(volume.empty()) << "nothing is mounted at " << dir;
  std::string secret;
  for (const auto& v : pod["volumes"]) {
    if (v["name"] == volume && v.contains("secret")) secret = v["secret"]["secretName"];
  }
  ASSERT_FALSE(secret.empty()) << "volume " << volume << " is not a Secret";

  std::string docs = ReadSource("docs/webhooks.md");
  EXPECT_EQ(Find(docs, R"(create secret generic ([\w-]+))"), secret);
  EXPECT_EQ(Find(docs, R"(--from-file=([\w-]+)=)"), key);
  EXPECT_EQ(Find(docs, R"(--git-webhook-secret-file=([\w/.-]+))"), file);
}

}  // namespace
}  // namespace flywheel::manifest
