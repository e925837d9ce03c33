// The CRDs in crds/ against a real kube-apiserver: they install, every example is accepted,
// every invalid resource in tests/integration/crds/invalid/ is rejected with its expected
// message, and `kubectl get` shows the printer columns.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "support/testenv.h"

namespace flywheel::testing {
namespace {

namespace fs = std::filesystem;

const std::vector<std::string> kCrdNames = {"pipelines.flywheel.dev", "pipelineruns.flywheel.dev",
                                            "releases.flywheel.dev",
                                            "rollbackpolicies.flywheel.dev"};

void InstallCrds(const TestEnv& env) {
  auto r = env.Kubectl(
      {"apply", "--server-side", "--field-manager=flywheel-tests", "-f", SourcePath("crds")});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  std::vector<std::string> wait = {"wait", "--for=condition=Established", "--timeout=60s"};
  for (const auto& n : kCrdNames) wait.push_back("crd/" + n);
  r = env.Kubectl(wait);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
}

std::vector<fs::path> YamlFiles(const std::string& dir) {
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(SourcePath(dir))) {
    if (e.path().extension() == ".yaml") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

class CrdTest : public ::testing::Test {
 protected:
  void SetUp() override {
    FLYWHEEL_REQUIRE_TESTENV(e);
    env_ = e;
    ASSERT_NO_FATAL_FAILURE(InstallCrds(*env_));
  }
  const TestEnv* env_ = nullptr;
};

TEST_F(CrdTest, AllFourKindsAreServedWithShortNamesAndCategory) {
  auto r = env_->Kubectl({"api-resources", "--api-group=flywheel.dev", "--no-headers"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const std::string line : {"pipelineruns", "pipelines", "releases", "rollbackpolicies"}) {
    EXPECT_NE(r.out.find(line), std::string::npos) << r.out;
  }
  for (const std::string shortname : {" plr ", " pl ", " rel ", " rbp "}) {
    EXPECT_NE(r.out.find(shortname), std::string::npos) << shortname << " in " << r.out;
  }
  r = env_->Kubectl({"get", "crd", "-o",
                     "jsonpath={range .items[?(@.spec.group==\"flywheel.dev\")]}"
                     "{.spec.names.categories[0]}{\" \"}{.spec.scope}{\"\\n\"}{end}"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "flywheel Namespaced\nflywheel Namespaced\nflywheel Namespaced\n"
            "flywheel Namespaced\n");
}

TEST_F(CrdTest, EveryExampleIsAccepted) {
  ScopedNamespace ns(*env_, "crd-examples");
  auto files = YamlFiles("examples");
  ASSERT_GE(files.size(), 4u);
  for (const auto& f : files) {
    auto r = env_->Kubectl({"apply", "--server-side", "-n", ns.name(), "-f", f.string()});
    EXPECT_EQ(r.exit_code, 0) << f.filename() << ": " << r.err;
  }
  // Defaults from the schema are filled in by the API server.
  auto r = env_->Kubectl({"get", "releases", "-n", ns.name(), "-o",
                          "jsonpath={range .items[*]}{.spec.prune}{\" \"}{.spec.selfHeal}{\" \"}"
                          "{.spec.source.branch}{\"\\n\"}{end}"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("true true main"), std::string::npos) << r.out;
}

// One invalid resource per schema or CEL rule. The first line of each file is
// `# expect: <part of the API server's message>`.
struct InvalidCase {
  std::string file;
  std::string expect;
};

std::vector<InvalidCase> InvalidCases() {
  std::vector<InvalidCase> cases;
  for (const auto& f : YamlFiles("tests/integration/crds/invalid")) {
    std::ifstream in(f);
    std::string first;
    std::getline(in, first);
    const std::string marker = "# expect: ";
    InvalidCase c{f.string(), ""};
    if (first.rfind(marker, 0) == 0) c.expect = first.substr(marker.size());
    cases.push_back(c);
  }
  return cases;
}

TEST_F(CrdTest, InvalidResourcesAreRejectedWithTheirMessage) {
  ScopedNamespace ns(*env_, "crd-invalid");
  auto cases = InvalidCases();
  ASSERT_GE(cases.size(), 20u) << "the table of invalid resources shrank";
  for (const auto& c : cases) {
    SCOPED_TRACE(c.file);
    ASSERT_FALSE(c.expect.empty()) << "missing `# expect: ` first line";
    auto r = env_->Kubectl({"create", "--dry-run=server", "-n", ns.name(), "-f", c.file});
    EXPECT_NE(r.exit_code, 0) << "accepted: " << r.out;
    EXPECT_NE(r.err.find(c.expect), std::string::npos)
        << "expected \"" << c.expect << "\" in: " << r.err;
  }
}

// The header line of `kubectl get <resource>` in a namespace with one example object.
std::string Header(const std::string& out) { return out.substr(0, out.find('\n')); }

TEST_F(CrdTest, KubectlGetShowsPrinterColumns) {
  ScopedNamespace ns(*env_, "crd-columns");
  for (const auto& f : YamlFiles("examples")) {
    ASSERT_EQ(env_->Kubectl({"apply", "-n", ns.name(), "-f", f.string()}).exit_code, 0);
  }
  struct Want {
    std::string resource;
    std::vector<std::string> columns;
  };
  const std::vector<Want> wants = {
      {"pl", {"NAME", "READY", "AGE"}},
      {"plr", {"NAME", "PIPELINE", "PHASE", "AGE"}},
      {"rel", {"NAME", "READY", "HEALTH", "REVISION", "AGE"}},
      {"rbp", {"NAME", "RELEASE", "PHASE", "AGE"}},
  };
  for (const auto& w : wants) {
    auto r = env_->Kubectl({"get", w.resource, "-n", ns.name()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    std::istringstream header(Header(r.out));
    std::vector<std::string> got;
    for (std::string col; header >> col;) got.push_back(col);
    for (const auto& col : w.columns) {
      EXPECT_NE(std::find(got.begin(), got.end(), col), got.end())
          << w.resource << " lacks column " << col << ": " << Header(r.out);
    }
  }
  // The category lists all four kinds at once.
  auto r = env_->Kubectl({"get", "flywheel", "-n", ns.name(), "-o", "name"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const std::string kind : {"pipeline.flywheel.dev/", "pipelinerun.flywheel.dev/",
                                 "release.flywheel.dev/", "rollbackpolicy.flywheel.dev/"}) {
    EXPECT_NE(r.out.find(kind), std::string::npos) << r.out;
  }
}

}  // namespace
}  // namespace flywheel::testing
