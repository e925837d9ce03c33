#include "flywheel/common/utf8.h"

#include <gtest/gtest.h>

namespace flywheel {
namespace {

const std::string kFffd = "\xEF\xBF\xBD";

TEST(Utf8Test, KeepsValidText) {
  const std::string valid[] = {
      "",
      "plain ascii",
      "caf\xC3\xA9",                   // 2 bytes
      "\xE6\x97\xA5\xE6\x9C\xAC",      // 3 bytes
      "\xF0\x9F\x9A\x80",              // 4 bytes
      "\xEF\xBF\xBF\xF4\x8F\xBF\xBF",  // U+FFFF, U+10FFFF
      std::string("nul\0inside", 10),
  };
  for (const auto& s : valid) EXPECT_EQ(ToValidUtf8(s), s);
}

TEST(Utf8Test, ReplacesEachInvalidByte) {
  struct Case {
    std::string in;
    std::string want;
  };
  const Case cases[] = {
      {"\xFF", kFffd},
      {"a\x80z", "a" + kFffd + "z"},                        // stray continuation
      {"\xC3", kFffd},                                      // truncated at the end
      {"\xC3(", kFffd + "("},                               // lead without continuation
      {"\xC0\xAF", kFffd + kFffd},                          // overlong '/'
      {"\xE0\x80\xAF", kFffd + kFffd + kFffd},              // overlong, 3 bytes
      {"\xED\xA0\x80", kFffd + kFffd + kFffd},              // a UTF-16 surrogate
      {"\xF4\x90\x80\x80", kFffd + kFffd + kFffd + kFffd},  // above U+10FFFF
      {"\xF8\x88\x80\x80\x80", kFffd + kFffd + kFffd + kFffd + kFffd},
  };
  for (const auto& c : cases) EXPECT_EQ(ToValidUtf8(c.in), c.want);
}

TEST(Utf8Test, TruncatesAtCharacterBoundaries) {
  const std::string s = "a\xC3\xA9\xF0\x9F\x9A\x80z";  // a, é (2), rocket (4), z
  EXPECT_EQ(TruncateUtf8(s, 100), s);
  EXPECT_EQ(TruncateUtf8(s, s.size()), s);
  EXPECT_EQ(TruncateUtf8(s, 0), "");
  EXPECT_EQ(TruncateUtf8(s, 1), "a");
  EXPECT_EQ(TruncateUtf8(s, 2), "a");
  EXPECT_EQ(TruncateUtf8(s, 3), "a\xC3\xA9");
  for (size_t n = 4; n <= 6; ++n) EXPECT_EQ(TruncateUtf8(s, n), "a\xC3\xA9") << n;
  EXPECT_EQ(TruncateUtf8(s, 7), "a\xC3\xA9\xF0\x9F\x9A\x80");
}

}  // namespace
}  // namespace flywheel
