// The built `flywheel` binary as a user runs it.
#include <gtest/gtest.h>

#include "support/process.h"

namespace flywheel::testing {
namespace {

TEST(BinaryTest, VersionAndHelp) {
  auto r = RunProcess({FLYWHEEL_BINARY, "version"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("flywheel ", 0), 0u) << r.out;
  r = RunProcess({FLYWHEEL_BINARY, "--help"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("version"), std::string::npos);
  r = RunProcess({FLYWHEEL_BINARY, "no-such-command"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("unknown command"), std::string::npos);
}

}  // namespace
}  // namespace flywheel::testing
