#include "flywheel/http/transport_error.h"

#include <string>

namespace flywheel::http {

Status StatusFromTransportError(std::error_code error, std::string_view request,
                                std::string_view detail) {
  Code code = Code::kUnavailable;
  if (error == std::errc::timed_out) {
    code = Code::kDeadlineExceeded;
  } else if (error == std::errc::operation_canceled) {
    code = Code::kCancelled;
  }
  std::string message(request);
  message += ": ";
  message += error ? error.message() : "the request failed before a response arrived";
  if (!detail.empty() && detail != error.message()) {
    message += " (";
    message += detail;
    message += ")";
  }
  return Status(code, std::move(message));
}

}  // namespace flywheel::http
