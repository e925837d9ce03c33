// kube::CompareResourceVersions: kube-apiserver's resourceVersions ordered as the integers they
// are, and anything else only ever equal to itself.
#include <gtest/gtest.h>

#include "flywheel/kube/client.h"

namespace flywheel::kube {
namespace {

TEST(ResourceVersionTest, OrdersByValueNotByText) {
  EXPECT_EQ(CompareResourceVersions("9", "10"), -1) << "as text \"9\" > \"10\"";
  EXPECT_EQ(CompareResourceVersions("10", "9"), 1);
  EXPECT_EQ(CompareResourceVersions("123456", "123456"), 0);
  EXPECT_EQ(CompareResourceVersions("123457", "123456"), 1);
  EXPECT_EQ(CompareResourceVersions("0", "1"), -1);
  EXPECT_EQ(CompareResourceVersions("99999999999999999999999", "100000000000000000000000"), -1)
      << "longer than any machine integer";
}

TEST(ResourceVersionTest, AVersionThatIsNoDecimalIntegerIsNotOrdered) {
  for (const char* odd : {"", "007", "12a", "-3", "+3", " 3", "abc", "1.5"}) {
    EXPECT_EQ(CompareResourceVersions(odd, "5"), std::nullopt) << odd;
    EXPECT_EQ(CompareResourceVersions("5", odd), std::nullopt) << odd;
  }
}

}  // namespace
}  // namespace flywheel::kube
