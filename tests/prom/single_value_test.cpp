// ReduceToSingleValue on decoded answers built in the test (client_test.cpp reduces the recorded
// ones).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "flywheel/prom/client.h"

namespace flywheel::prom {
namespace {

Sample Value(double value, std::string text, std::map<std::string, std::string> labels = {}) {
  return {.labels = std::move(labels), .value = value, .text = std::move(text)};
}

TEST(ReduceToSingleValueTest, AScalarOrOneSampleIsTheValue) {
  auto scalar =
      ReduceToSingleValue({.type = QueryResult::Type::kScalar, .samples = {Value(0.21, "0.21")}});
  ASSERT_TRUE(scalar.ok()) << scalar.status().ToString();
  EXPECT_FALSE(scalar->no_data);
  EXPECT_EQ(scalar->value, 0.21);
  EXPECT_EQ(scalar->text, "0.21");

  auto vector = ReduceToSingleValue(
      {.type = QueryResult::Type::kVector, .samples = {Value(-3, "-3", {{"job", "app"}})}});
  ASSERT_TRUE(vector.ok()) << vector.status().ToString();
  EXPECT_EQ(vector->value, -3);
  EXPECT_EQ(vector->text, "-3");
}

TEST(ReduceToSingleValueTest, EmptyAndNaNAreNoDataButInfinitiesAreValues) {
  auto empty = ReduceToSingleValue({.type = QueryResult::Type::kVector});
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->no_data);
  EXPECT_EQ(empty->text, "");

  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (auto type : {QueryResult::Type::kScalar, QueryResult::Type::kVector}) {
    auto r = ReduceToSingleValue({.type = type, .samples = {Value(nan, "NaN")}});
    ASSERT_TRUE(r.ok());
    EXPECT_TRUE(r->no_data);
    EXPECT_EQ(r->text, "NaN");
  }
  const double inf = std::numeric_limits<double>::infinity();
  auto plus =
      ReduceToSingleValue({.type = QueryResult::Type::kScalar, .samples = {Value(inf, "+Inf")}});
  ASSERT_TRUE(plus.ok());
  EXPECT_FALSE(plus->no_data);
  EXPECT_EQ(plus->value, inf);
  auto minus =
      ReduceToSingleValue({.type = QueryResult::Type::kVector, .samples = {Value(-inf, "-Inf")}});
  ASSERT_TRUE(minus.ok());
  EXPECT_FALSE(minus->no_data);
  EXPECT_EQ(minus->value, -inf);
}

TEST(ReduceToSingleValueTest, SeveralSeriesNameTheCountAndTheFirstSeriesLabels) {
  auto r = ReduceToSingleValue(
      {.type = QueryResult::Type::kVector,
       .samples = {Value(1, "1", {{"code", "500"}, {"__name__", "x"}, {"path", "/a\"b\\c"}}),
                   Value(2, "2", {{"code", "200"}}), Value(3, "3", {})}});
  ASSERT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_NE(
      r.status().message().find(
          "returned 3 series, the first {__name__=\"x\", code=\"500\", path=\"/a\\\"b\\\\c\"}"),
      std::string::npos)
      << r.status().message();
  EXPECT_EQ(r.status().message().find("code=\"200\""), std::string::npos)
      << "only the first series is named: " << r.status().message();
}

TEST(ReduceToSingleValueTest, MatrixAndStringAreErrorsThatSaySo) {
  auto matrix = ReduceToSingleValue({.type = QueryResult::Type::kMatrix, .matrix_series = 4});
  ASSERT_EQ(matrix.status().code(), Code::kInvalidArgument);
  EXPECT_NE(matrix.status().message().find("range vector (matrix) of 4 series"), std::string::npos)
      << matrix.status().message();
  auto text = ReduceToSingleValue({.type = QueryResult::Type::kString, .string_value = "ok"});
  ASSERT_EQ(text.status().code(), Code::kInvalidArgument);
  EXPECT_NE(text.status().message().find("a string (\"ok\"), not a number"), std::string::npos)
      << text.status().message();
}

}  // namespace
}  // namespace flywheel::prom
