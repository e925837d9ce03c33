#include "crds.h"

#include <gtest/gtest.h>

#include <filesystem>

namespace flywheel::testing {

void InstallCrds(const TestEnv& env) {
  auto r = env.Kubectl(
      {"apply", "--server-side", "--field-manager=flywheel-tests", "-f", SourcePath("crds")});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  std::vector<std::string> wait = {"wait", "--for=condition=Established", "--timeout=60s"};
  for (const auto& entry : std::filesystem::directory_iterator(SourcePath("crds"))) {
    if (entry.path().extension() == ".yaml") wait.push_back("-f=" + entry.path().string());
  }
  r = env.Kubectl(wait);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
}

}  // namespace flywheel::testing
