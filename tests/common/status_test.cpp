#include "flywheel/common/status.h"

#include <gtest/gtest.h>

namespace flywheel {
namespace {

TEST(StatusTest, OkByDefault) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.ToString(), "OK");
}

TEST(StatusTest, TransientCodesAreRetryable) {
  EXPECT_TRUE(Status(Code::kUnavailable, "x").IsTransient());
  EXPECT_TRUE(Status(Code::kResourceExhausted, "x").IsTransient());
  EXPECT_TRUE(Status(Code::kDeadlineExceeded, "x").IsTransient());
  EXPECT_FALSE(Status(Code::kAborted, "x").IsTransient());
  EXPECT_FALSE(Status(Code::kInvalidArgument, "x").IsTransient());
  EXPECT_FALSE(Status().IsTransient());
}

TEST(StatusTest, ToStringNamesCode) {
  EXPECT_EQ(Status(Code::kNotFound, "pods \"x\" not found").ToString(),
            "NotFound: pods \"x\" not found");
}

TEST(ResultTest, HoldsValueOrStatus) {
  Result<int> v = 3;
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, 3);
  EXPECT_TRUE(v.status().ok());
  Result<int> e = Status(Code::kUnavailable, "down");
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), Code::kUnavailable);
  EXPECT_EQ(e.status().message(), "down");
}

}  // namespace
}  // namespace flywheel
