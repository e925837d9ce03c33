#include "flywheel/git/path.h"

#include <gtest/gtest.h>

namespace flywheel::git {
namespace {

TEST(NormalizeRepoPathTest, GivesOneSpellingPerPath) {
  EXPECT_EQ(NormalizeRepoPath("."), "");
  EXPECT_EQ(NormalizeRepoPath(""), "");
  EXPECT_EQ(NormalizeRepoPath("./apps/web/"), "apps/web");
  EXPECT_EQ(NormalizeRepoPath("apps//web/./x.yaml"), "apps/web/x.yaml");
  EXPECT_EQ(NormalizeRepoPath("apps/web/../db"), "apps/db");
  EXPECT_EQ(NormalizeRepoPath("apps/.."), "");
}

TEST(NormalizeRepoPathTest, RefusesToLeaveTheRepository) {
  EXPECT_EQ(NormalizeRepoPath(".."), std::nullopt);
  EXPECT_EQ(NormalizeRepoPath("../x"), std::nullopt);
  EXPECT_EQ(NormalizeRepoPath("apps/../../x"), std::nullopt);
}

}  // namespace
}  // namespace flywheel::git
