// The main() of every test binary: GoogleTest's, plus the rule that a skipped test fails.
//
// A test skips (GTEST_SKIP) when something it needs is missing: the local control plane, nginx,
// git daemon, sshd. A skip is green in GoogleTest and in ctest, so a machine without nginx would
// pass `make test` without testing git over HTTP at all. Here a skip is turned into a failure
// that keeps the skip's reason, unless FLYWHEEL_ALLOW_SKIP=1 (for a developer who runs one binary
// without the control plane on purpose; hack/test.sh clears it, so `make test` never skips).
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

namespace {

// Fails every test that ended skipped. It runs at the end of each test, before the result
// printer (GoogleTest calls OnTestEnd in reverse order of registration), while the test is still
// the current one, so the failure is the test's own and the printer and ctest see FAILED.
class SkipIsFailure : public ::testing::EmptyTestEventListener {
  void OnTestEnd(const ::testing::TestInfo& test) override {
    const ::testing::TestResult& result = *test.result();
    if (!result.Skipped()) return;
    std::string why;
    for (int i = 0; i < result.total_part_count(); ++i) {
      const ::testing::TestPartResult& part = result.GetTestPartResult(i);
      if (part.skipped() && part.message() != nullptr) why += part.message();
    }
    ADD_FAILURE() << "this test was skipped, and a skipped test fails (set FLYWHEEL_ALLOW_SKIP=1 "
                     "to allow skips outside `make test`). Why it skipped: "
                  << (why.empty() ? "(no reason given)" : why);
  }
};

bool SkipsAllowed() {
  const char* allow = std::getenv("FLYWHEEL_ALLOW_SKIP");
  return allow != nullptr && std::string(allow) == "1";
}

}  // namespace

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (!SkipsAllowed()) {
    ::testing::UnitTest::GetInstance()->listeners().Append(new SkipIsFailure);
  }
  return RUN_ALL_TESTS();
}
