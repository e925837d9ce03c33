#include "flywheel/common/time.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>

namespace flywheel {
namespace {

using std::chrono::hours;
using std::chrono::microseconds;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::nanoseconds;
using std::chrono::seconds;

// 2024-02-29T12:34:56Z, a leap day.
Time LeapDay() {
  return Time(std::chrono::sys_days(std::chrono::year(2024) / 2 / 29) + hours(12) + minutes(34) +
              seconds(56));
}

TEST(TimeTest, FormatsWholeSecondsInUtc) {
  EXPECT_EQ(FormatRfc3339(LeapDay()), "2024-02-29T12:34:56Z");
  EXPECT_EQ(FormatRfc3339(LeapDay() + milliseconds(999)), "2024-02-29T12:34:56Z");
  EXPECT_EQ(FormatRfc3339(Time()), "1970-01-01T00:00:00Z");
  // Before the epoch the sub-second part still rounds towards the past.
  EXPECT_EQ(FormatRfc3339(Time() - milliseconds(1)), "1969-12-31T23:59:59Z");
}

TEST(TimeTest, FormatsMicroseconds) {
  EXPECT_EQ(FormatRfc3339Micro(LeapDay() + microseconds(123456) + nanoseconds(789)),
            "2024-02-29T12:34:56.123456Z");
  EXPECT_EQ(FormatRfc3339Micro(LeapDay()), "2024-02-29T12:34:56.000000Z");
}

TEST(TimeTest, ParsesRfc3339) {
  struct Case {
    const char* text;
    Time want;
  };
  const Case cases[] = {
      {"2024-02-29T12:34:56Z", LeapDay()},
      {"2024-02-29T12:34:56.5Z", LeapDay() + milliseconds(500)},
      {"2024-02-29T12:34:56.123456Z", LeapDay() + microseconds(123456)},
      {"2024-02-29T12:34:56.123456789Z", LeapDay() + nanoseconds(123456789)},
      {"2024-02-29T12:34:56.1234567891Z", LeapDay() + nanoseconds(123456789)},
      {"2024-02-29T14:34:56+02:00", LeapDay()},
      {"2024-02-29T07:04:56-05:30", LeapDay()},
      {"2024-03-01T00:04:56+11:30", LeapDay()},
      {"1970-01-01T00:00:00Z", Time()},
  };
  for (const auto& c : cases) {
    Result<Time> got = ParseRfc3339(c.text);
    ASSERT_TRUE(got.ok()) << c.text << ": " << got.status().ToString();
    EXPECT_EQ(*got, c.want) << c.text;
  }
}

TEST(TimeTest, FormatThenParseRoundTrips) {
  Time t = LeapDay() + microseconds(42);
  EXPECT_EQ(*ParseRfc3339(FormatRfc3339Micro(t)), t);
  EXPECT_EQ(*ParseRfc3339(FormatRfc3339(t)), LeapDay());
}

TEST(TimeTest, RejectsInvalidRfc3339) {
  const char* cases[] = {
      "",
      "2024-02-29",
      "2024-02-29 12:34:56Z",       // space instead of T
      "2024-02-29t12:34:56Z",       // lower-case t
      "2024-02-29T12:34:56",        // no zone
      "2024-02-29T12:34:56z",       // lower-case z
      "2023-02-29T12:34:56Z",       // not a leap year
      "2024-13-01T12:34:56Z",       // month 13
      "2024-04-31T12:34:56Z",       // April 31
      "2024-02-29T24:00:00Z",       // hour 24
      "2024-02-29T12:60:00Z",       // minute 60
      "2024-02-29T12:34:60Z",       // leap second
      "2024-02-29T12:34:56.Z",      // empty fraction
      "2024-02-29T12:34:56+0200",   // offset without colon
      "2024-02-29T12:34:56+24:00",  // offset out of range
      "2024-02-29T12:34:56Zjunk",   // trailing text
      "24-02-29T12:34:56Z",         // two-digit year
  };
  for (const char* text : cases) {
    Result<Time> got = ParseRfc3339(text);
    ASSERT_FALSE(got.ok()) << text;
    EXPECT_EQ(got.status().code(), Code::kInvalidArgument) << text;
    EXPECT_NE(got.status().message().find("invalid RFC 3339 time"), std::string::npos);
  }
}

TEST(DurationTest, ParsesGoDurations) {
  struct Case {
    const char* text;
    Duration want;
  };
  const Case cases[] = {
      {"0", Duration(0)},
      {"-0", Duration(0)},
      {"+0", Duration(0)},
      {"0s", Duration(0)},
      {"90s", seconds(90)},
      {"5m", minutes(5)},
      {"1h30m", hours(1) + minutes(30)},
      {"1.5h", hours(1) + minutes(30)},
      {"300ms", milliseconds(300)},
      {"1.5s", milliseconds(1500)},
      {".5s", milliseconds(500)},
      {"5.s", seconds(5)},
      {"0.1s", milliseconds(100)},
      {"10us", microseconds(10)},
      {"10\xC2\xB5s", microseconds(10)},  // micro sign
      {"10\xCE\xBCs", microseconds(10)},  // Greek mu
      {"7ns", nanoseconds(7)},
      {"-2m3s", -(minutes(2) + seconds(3))},
      {"+2m", minutes(2)},
      {"1h1m1s1ms1us1ns",
       hours(1) + minutes(1) + seconds(1) + milliseconds(1) + microseconds(1) + nanoseconds(1)},
      {"3m3m", minutes(6)},  // Go sums repeated units
      {"1.0000000000000000000000001s", seconds(1)},
      {"9223372036854775807ns", nanoseconds(std::numeric_limits<int64_t>::max())},
      {"-9223372036854775808ns", nanoseconds(std::numeric_limits<int64_t>::min())},
      {"2562047h", hours(2562047)},
  };
  for (const auto& c : cases) {
    Result<Duration> got = ParseDuration(c.text);
    ASSERT_TRUE(got.ok()) << c.text << ": " << got.status().ToString();
    EXPECT_EQ(got->count(), c.want.count()) << c.text;
  }
}

TEST(DurationTest, RejectsInvalidDurations) {
  struct Case {
    const char* text;
    const char* why;  // a piece of the message
  };
  const Case cases[] = {
      {"", "empty"},
      {"-", "empty"},
      {"1", "missing unit"},
      {"10", "missing unit"},
      {"1.5", "missing unit"},
      {"5d", "unknown unit \"d\""},
      {"1hour", "unknown unit \"hour\""},
      {"1H", "unknown unit \"H\""},
      {"s", "expected a number"},
      {"h1", "expected a number"},
      {".s", "expected digits"},
      {"1h 30m", "unknown unit \"h \""},
      {" 1h", "expected a number"},
      {"--1s", "expected a number"},
      {"9223372036854775808ns", "out of range"},
      {"2562048h", "out of range"},
      {"99999999999999999999s", "out of range"},
      {"2562047h48m", "out of range"},
  };
  for (const auto& c : cases) {
    Result<Duration> got = ParseDuration(c.text);
    ASSERT_FALSE(got.ok()) << c.text;
    EXPECT_EQ(got.status().code(), Code::kInvalidArgument) << c.text;
    const std::string& message = got.status().message();
    EXPECT_NE(message.find(std::string("invalid duration \"") + c.text + "\""), std::string::npos)
        << message;
    EXPECT_NE(message.find(c.why), std::string::npos) << c.text << ": " << message;
  }
}

TEST(DurationTest, FormatsLikeGo) {
  struct Case {
    Duration d;
    const char* want;
  };
  const Case cases[] = {
      {Duration(0), "0s"},
      {nanoseconds(1), "1ns"},
      {nanoseconds(1100), "1.1\xC2\xB5s"},
      {microseconds(2), "2\xC2\xB5s"},
      {milliseconds(300), "300ms"},
      {microseconds(2200), "2.2ms"},
      {milliseconds(1500), "1.5s"},
      {seconds(90), "1m30s"},
      {minutes(5), "5m0s"},
      {hours(1) + minutes(30), "1h30m0s"},
      {hours(1) + nanoseconds(1), "1h0m0.000000001s"},
      {-(minutes(2) + seconds(3)), "-2m3s"},
      {nanoseconds(std::numeric_limits<int64_t>::max()), "2562047h47m16.854775807s"},
      {nanoseconds(std::numeric_limits<int64_t>::min()), "-2562047h47m16.854775808s"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(FormatDuration(c.d), c.want);
    Result<Duration> back = ParseDuration(FormatDuration(c.d));
    ASSERT_TRUE(back.ok()) << c.want;
    EXPECT_EQ(back->count(), c.d.count()) << c.want;
  }
}

}  // namespace
}  // namespace flywheel
