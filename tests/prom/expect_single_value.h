#pragma once

#include <gtest/gtest.h>

#include <string>

#include "flywheel/prom/client.h"

namespace flywheel::prom {

// What ReduceToSingleValue should make of an answer: kOk with `no_data` and the value's text
// (`text_or_message`), or the error `code` with a part of its message (`text_or_message`).
inline void ExpectSingleValue(const QueryResult& result, Code code, bool no_data,
                              const std::string& text_or_message) {
  auto value = ReduceToSingleValue(result);
  ASSERT_EQ(value.status().code(), code) << value.status().ToString();
  if (value.ok()) {
    EXPECT_EQ(value->no_data, no_data);
    EXPECT_EQ(value->text, text_or_message);
  } else {
    EXPECT_NE(value.status().message().find(text_or_message), std::string::npos)
        << value.status().message();
  }
}

}  // namespace flywheel::prom
