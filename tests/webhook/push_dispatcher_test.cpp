#include "flywheel/webhook/push_dispatcher.h"

#include <gtest/gtest.h>

namespace flywheel::webhook {
namespace {

TEST(RefConcernsTest, ABranchPushConcernsThoseFollowingThatBranch) {
  EXPECT_TRUE(RefConcerns("refs/heads/main", "main", ""));
  EXPECT_FALSE(RefConcerns("refs/heads/feature", "main", ""));
  EXPECT_FALSE(RefConcerns("refs/heads/main-2", "main", ""));
  EXPECT_FALSE(RefConcerns("refs/heads/main", "main", "v1")) << "pinned to a tag";
  EXPECT_TRUE(RefConcerns("refs/heads/release", "main", "release")) << "pinned to a branch name";
}

TEST(RefConcernsTest, ATagPushConcernsThosePinnedToThatTag) {
  EXPECT_TRUE(RefConcerns("refs/tags/v1", "main", "v1"));
  EXPECT_FALSE(RefConcerns("refs/tags/v1", "main", ""));
  EXPECT_FALSE(RefConcerns("refs/tags/v2", "main", "v1"));
}

TEST(RefConcernsTest, APushWithoutARefConcernsEveryone) {
  EXPECT_TRUE(RefConcerns("", "main", ""));
  EXPECT_TRUE(RefConcerns("", "main", "v1"));
  EXPECT_TRUE(RefConcerns("refs/merge-requests/1/head", "main", ""));
}

}  // namespace
}  // namespace flywheel::webhook
