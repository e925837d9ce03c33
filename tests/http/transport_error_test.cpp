#include "flywheel/http/transport_error.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <string>

namespace flywheel::http {
namespace {

TEST(TransportErrorTest, MapsErrorCodesToRetryableStatuses) {
  const std::string request = "GET https://127.0.0.1:6443/api/v1/pods";
  Status s = StatusFromTransportError(std::make_error_code(std::errc::connection_refused), request);
  EXPECT_EQ(s.code(), Code::kUnavailable);
  EXPECT_EQ(s.message().rfind(request + ": ", 0), 0u) << s.message();
  EXPECT_TRUE(s.IsTransient());

  EXPECT_EQ(
      StatusFromTransportError(std::make_error_code(std::errc::connection_reset), request).code(),
      Code::kUnavailable);
  EXPECT_EQ(
      StatusFromTransportError(std::make_error_code(std::errc::host_unreachable), request).code(),
      Code::kUnavailable);
  EXPECT_EQ(StatusFromTransportError(std::make_error_code(std::errc::timed_out), request).code(),
            Code::kDeadlineExceeded);
  EXPECT_EQ(
      StatusFromTransportError(std::make_error_code(std::errc::operation_canceled), request).code(),
      Code::kCancelled);
  // errno values from the system category compare equal to the portable conditions.
  EXPECT_EQ(
      StatusFromTransportError(std::error_code(ETIMEDOUT, std::system_category()), request).code(),
      Code::kDeadlineExceeded);

  s = StatusFromTransportError(std::error_code(), request, "TLS handshake failed: bad certificate");
  EXPECT_EQ(s.code(), Code::kUnavailable);
  EXPECT_NE(s.message().find("TLS handshake failed: bad certificate"), std::string::npos);
}

}  // namespace
}  // namespace flywheel::http
