#include "flywheel/api/names.h"

#include <gtest/gtest.h>

#include <regex>

namespace flywheel::api {
namespace {

// A label value: at most 63 characters, alphanumerics with '-', '_', '.' inside.
bool ValidLabelValue(const std::string& v) {
  static const std::regex kPattern("^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$");
  return v.size() <= 63 && std::regex_match(v, kPattern);
}

TEST(OwnerLabelValueTest, ShortNamesAreNamespaceDotName) {
  EXPECT_EQ(OwnerLabelValue("team-a", "web"), "team-a.web");
  const std::string ns(31, 'n'), name(31, 'm');
  EXPECT_EQ(OwnerLabelValue(ns, name), ns + "." + name);  // exactly 63
}

TEST(OwnerLabelValueTest, LongNamesAreHashedIntoAValidDistinctValue) {
  const std::string ns(63, 'n');
  const std::string a = OwnerLabelValue(ns, std::string(63, 'a'));
  const std::string b = OwnerLabelValue(ns, std::string(62, 'a') + "b");
  EXPECT_TRUE(ValidLabelValue(a)) << a;
  EXPECT_TRUE(ValidLabelValue(b)) << b;
  EXPECT_NE(a, b) << "names that share the kept prefix still differ";
  EXPECT_EQ(a, OwnerLabelValue(ns, std::string(63, 'a'))) << "stable";
  EXPECT_TRUE(a.starts_with(std::string(52, 'n')));
}

TEST(OwnerLabelValueTest, ThePrefixNeverEndsInASeparator) {
  // The 52nd character is the '.' between namespace and name, and then a '-' in the name.
  const std::string v = OwnerLabelValue(std::string(51, 'n'), "-" + std::string(40, 'x'));
  EXPECT_TRUE(ValidLabelValue(v)) << v;
  EXPECT_EQ(v.find(".-"), std::string::npos) << v;
}

}  // namespace
}  // namespace flywheel::api
