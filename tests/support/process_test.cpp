#include "process.h"

#include <gtest/gtest.h>

namespace flywheel::testing {
namespace {

TEST(RunProcessTest, CapturesStdoutStderrAndExitCode) {
  auto r = RunProcess({"sh", "-c", "echo out; echo err >&2; exit 3"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.out, "out\n");
  EXPECT_EQ(r.err, "err\n");
}

TEST(RunProcessTest, FeedsLargeStdinWithoutDeadlock) {
  std::string input(1 << 20, 'x');
  auto r = RunProcess({"wc", "-c"}, input);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(std::stoul(r.out), input.size());
}

TEST(RunProcessTest, MissingProgramIs127) {
  auto r = RunProcess({"/nonexistent/flywheel-test-binary"});
  EXPECT_EQ(r.exit_code, 127);
  EXPECT_NE(r.err.find("/nonexistent/flywheel-test-binary"), std::string::npos);
}

TEST(RunProcessTest, KilledBySignalIs128PlusSignal) {
  auto r = RunProcess({"sh", "-c", "kill -TERM $$"});
  EXPECT_EQ(r.exit_code, 128 + 15);
}

}  // namespace
}  // namespace flywheel::testing
